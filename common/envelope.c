/* envelope: encode and decode the JSON of a bus message. Unknown fields are
 * ignored so that newer senders can add some without breaking consumers. */
#include "envelope.h"
#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static void copy_field(char *dst, size_t cap, const char *src)
{
    snprintf(dst, cap, "%s", src ? src : "");
}

void envelope_init(envelope_t *env, const char *type, const char *id,
                   const char *request_id)
{
    memset(env, 0, sizeof *env);
    copy_field(env->type, sizeof env->type, type);
    copy_field(env->id, sizeof env->id, id);
    copy_field(env->request_id, sizeof env->request_id, request_id);
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(env->sent_at, sizeof env->sent_at, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

char *envelope_encode(const envelope_t *env)
{
    cJSON *o = cJSON_CreateObject();
    bool ok = o && cJSON_AddStringToObject(o, "type", env->type) &&
              cJSON_AddStringToObject(o, "id", env->id) &&
              cJSON_AddStringToObject(o, "request_id", env->request_id) &&
              cJSON_AddStringToObject(o, "sent_at", env->sent_at);
    char *text = ok ? cJSON_PrintUnformatted(o) : NULL;
    cJSON_Delete(o);
    return text;
}

static void take_string(const cJSON *o, const char *key, char *dst, size_t cap)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    copy_field(dst, cap, cJSON_IsString(v) ? v->valuestring : "");
}

int envelope_decode(const char *json, size_t len, envelope_t *out)
{
    memset(out, 0, sizeof *out);
    cJSON *o = cJSON_ParseWithLength(json, len);
    if (!cJSON_IsObject(o)) {
        cJSON_Delete(o);
        return -1;
    }
    take_string(o, "type", out->type, sizeof out->type);
    take_string(o, "id", out->id, sizeof out->id);
    take_string(o, "request_id", out->request_id, sizeof out->request_id);
    take_string(o, "sent_at", out->sent_at, sizeof out->sent_at);
    cJSON_Delete(o);
    return out->type[0] ? 0 : -1;
}
