#!/bin/sh
# deploy/ha/lindung-post-bootstrap.sh: Patroni's bootstrap.post_bootstrap
# (deploy/ha/patroni.yml.in). Install as /etc/patroni/lindung-post-bootstrap.sh,
# mode 0755. Patroni runs it once, as postgres, on the host that initialises
# the cluster, with a superuser connection string as $1, before any standby
# exists. It makes lindung's database; `lindungctl migrate` and
# deploy/db-users.sql come after (docs/ha.md, "First start").
set -eu
psql -X -q -v ON_ERROR_STOP=1 -d "$1" -c 'CREATE DATABASE lindung'
