/* log: one JSON object per line on stderr, for every event a daemon reports.
 * Values are JSON-escaped and any NIK-like digit run is masked, so a caller
 * can never leak a NIK into a log by accident. Not for metrics (metrics.h). */
#ifndef LINDUNG_LOG_H
#define LINDUNG_LOG_H

typedef enum { LOG_DEBUG = 0, LOG_INFO, LOG_WARN, LOG_ERROR } log_level_t;

/* Name the service in every line; minimum level from LINDUNG_LOG_LEVEL. */
void log_init(const char *service);

/* Write {"ts","level","service","event", key: value, ...}. The variadic part is
 * pairs of const char * (key, value) ending in NULL; a NULL value is skipped. */
void log_write(log_level_t level, const char *event, ...);

#define log_debug(event, ...) log_write(LOG_DEBUG, event, ##__VA_ARGS__, NULL)
#define log_info(event, ...) log_write(LOG_INFO, event, ##__VA_ARGS__, NULL)
#define log_warn(event, ...) log_write(LOG_WARN, event, ##__VA_ARGS__, NULL)
#define log_error(event, ...) log_write(LOG_ERROR, event, ##__VA_ARGS__, NULL)
#endif
