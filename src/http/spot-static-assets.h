/* spot-static-assets.h: files compiled into the binary as GResources.
 *
 * The web bundle (app.js, app.css) and the HTML templates live under
 * SPOT_HTTP_RESOURCE_PREFIX. Each asset is looked up once and then kept with
 * its content type and a strong ETag (a SHA-256 prefix of the content), so
 * /static/ answers If-None-Match with 304.
 *
 * Thread safety: main thread only (the cache is not locked).
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define SPOT_HTTP_RESOURCE_PREFIX "/org/spotcanvas/http/"

typedef struct
{
  GBytes *bytes;
  const char *content_type; /* static string */
  char *etag;               /* quoted, "\"...\"" */
} SpotStaticAsset;

typedef struct _SpotStaticAssets SpotStaticAssets;

SpotStaticAssets *spot_static_assets_new (void);
void spot_static_assets_free (SpotStaticAssets *assets);

/* @path relative to the prefix ("static/app.js", "templates/index.html").
 * NULL when there is no such resource (or @path tries to leave the prefix). */
const SpotStaticAsset *spot_static_assets_lookup (SpotStaticAssets *assets, const char *path);

/* Content type from the file name: js, css, html, svg, png, ico, json, txt,
 * woff2; anything else application/octet-stream. */
const char *spot_static_content_type (const char *path);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (SpotStaticAssets, spot_static_assets_free)

G_END_DECLS
