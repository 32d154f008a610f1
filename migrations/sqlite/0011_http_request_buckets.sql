-- The per-token request rate of the HTTP transport (`http.requests`),
-- counted where every server on the database sees it: each server adds the
-- requests it admitted about once a second and reads back every server's
-- counts. Buckets as for the tool quotas (`rate_buckets`): 1 s for the
-- minute window, 1 min for the hour, 15 min for the day.
CREATE TABLE http_request_buckets (
    token_name TEXT NOT NULL,
    "window"   TEXT NOT NULL,
    bucket     INTEGER NOT NULL,
    count      INTEGER NOT NULL,
    PRIMARY KEY (token_name, "window", bucket)
) WITHOUT ROWID;
