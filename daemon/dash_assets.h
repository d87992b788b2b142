/* daemon/dash_assets.h - the dashboard's page, script and style (web/),
 * built into the binary (daemon/dash_assets.c is generated from web/ by
 * scripts/embed_assets.py), so the page needs nothing from the network. */
#ifndef CLM_DAEMON_DASH_ASSETS_H
#define CLM_DAEMON_DASH_ASSETS_H

#include <stddef.h>

typedef struct clm_dash_asset {
    const char *path; /* "/<file name>", e.g. "/dashboard.html" */
    const char *type; /* Content-Type */
    const unsigned char *data;
    size_t len;
} clm_dash_asset;

/* Ends with a row whose path is NULL. */
extern const clm_dash_asset clm_dash_assets[];

#endif
