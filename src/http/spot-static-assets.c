/* spot-static-assets.c: GResource-backed static files with ETags. */
#define G_LOG_DOMAIN "spot-http"

#include "http/spot-static-assets.h"

#include <string.h>

#include "spot-http-resources.h"

struct _SpotStaticAssets
{
  GHashTable *cache; /* path -> SpotStaticAsset* */
};

static void
asset_free (gpointer data)
{
  SpotStaticAsset *asset = data;

  g_bytes_unref (asset->bytes);
  g_free (asset->etag);
  g_free (asset);
}

SpotStaticAssets *
spot_static_assets_new (void)
{
  SpotStaticAssets *assets = g_new0 (SpotStaticAssets, 1);

  /* Referencing the bundle keeps its object (and the constructor that
   * registers it) in the link of a static library. */
  (void)spot_http_get_resource ();

  assets->cache = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, asset_free);
  return assets;
}

void
spot_static_assets_free (SpotStaticAssets *assets)
{
  if (assets == NULL)
    return;
  g_hash_table_unref (assets->cache);
  g_free (assets);
}

const char *
spot_static_content_type (const char *path)
{
  static const struct
  {
    const char *suffix;
    const char *type;
  } types[] = {
    { ".js", "text/javascript; charset=utf-8" },
    { ".css", "text/css; charset=utf-8" },
    { ".html", "text/html; charset=utf-8" },
    { ".svg", "image/svg+xml" },
    { ".png", "image/png" },
    { ".ico", "image/x-icon" },
    { ".json", "application/json" },
    { ".map", "application/json" },
    { ".txt", "text/plain; charset=utf-8" },
    { ".woff2", "font/woff2" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (types); i++)
    if (g_str_has_suffix (path, types[i].suffix))
      return types[i].type;
  return "application/octet-stream";
}

const SpotStaticAsset *
spot_static_assets_lookup (SpotStaticAssets *assets, const char *path)
{
  SpotStaticAsset *asset;
  g_autofree char *full = NULL;
  g_autofree char *digest = NULL;
  GBytes *bytes;

  if (path == NULL || path[0] == '\0' || path[0] == '/' || strstr (path, "..") != NULL
      || strstr (path, "//") != NULL)
    return NULL;
  asset = g_hash_table_lookup (assets->cache, path);
  if (asset != NULL)
    return asset;

  full = g_strconcat (SPOT_HTTP_RESOURCE_PREFIX, path, NULL);
  bytes = g_resources_lookup_data (full, G_RESOURCE_LOOKUP_FLAGS_NONE, NULL);
  if (bytes == NULL)
    return NULL;
  digest = g_compute_checksum_for_bytes (G_CHECKSUM_SHA256, bytes);
  asset = g_new0 (SpotStaticAsset, 1);
  asset->bytes = bytes;
  asset->content_type = spot_static_content_type (path);
  asset->etag = g_strdup_printf ("\"%.20s\"", digest);
  g_hash_table_insert (assets->cache, g_strdup (path), asset);
  return asset;
}
