/* spot-monitor-window.c: status grid, product list and live candle. */
#define G_LOG_DOMAIN "spot-monitor"

#include "config.h"

#include "spot-monitor-window.h"

#include <json-glib/json-glib.h>

#include "dbus/spot-dbus-service.h"
#include "model/spot-product.h"

struct _SpotMonitorWindow
{
  GtkApplicationWindow parent_instance;

  SpotDbusCanvas *proxy;
  GCancellable *cancellable;
  gulong props_id;
  gulong products_id;
  gulong owner_id;

  GtkWidget *banner;
  GtkWidget *error_label;
  GHashTable *value_labels; /* property name -> GtkLabel */
  GtkWidget *entry;
  GtkWidget *add_button;
  GtkWidget *product_list;
  GtkWidget *granularity;
  GtkWidget *candle_label;
  char *selected_product;
  guint candle_timer;
};

G_DEFINE_FINAL_TYPE (SpotMonitorWindow, spot_monitor_window, GTK_TYPE_APPLICATION_WINDOW)

/* Property name and its caption, in display order. */
static const struct
{
  const char *property;
  const char *caption;
} status_rows[] = {
  { "State", "State" },
  { "Version", "Version" },
  { "Shard", "Shard" },
  { "ProductCount", "Products (all / this shard)" },
  { "Connections", "Exchange connections (up / total)" },
  { "MessagesReceived", "Messages received" },
  { "TradesReceived", "Trades received" },
  { "CandlesPublished", "Candles published" },
  { "CandlesStored", "Candles stored" },
  { "Reconnects", "Reconnects" },
  { "SseClients", "Stream clients" },
  { "NatsStatus", "NATS" },
  { "DatabaseStatus", "Database" },
};

static const char *const granularities[] = {
  "ONE_MINUTE", "FIVE_MINUTE", "FIFTEEN_MINUTE", "THIRTY_MINUTE", "ONE_HOUR",
  "TWO_HOUR",   "FOUR_HOUR",   "SIX_HOUR",       "ONE_DAY",       NULL,
};

static void
set_value (SpotMonitorWindow *self, const char *property, const char *text)
{
  GtkLabel *label = g_hash_table_lookup (self->value_labels, property);

  gtk_label_set_text (label, text != NULL ? text : "—");
}

static void
show_error (SpotMonitorWindow *self, GError *error)
{
  if (error == NULL)
    {
      gtk_label_set_text (GTK_LABEL (self->error_label), "");
      gtk_widget_set_visible (self->error_label, FALSE);
      return;
    }
  if (g_dbus_error_is_remote_error (error))
    g_dbus_error_strip_remote_error (error);
  g_message ("%s", error->message);
  gtk_label_set_text (GTK_LABEL (self->error_label), error->message);
  gtk_widget_set_visible (self->error_label, TRUE);
}

static void
refresh_properties (SpotMonitorWindow *self)
{
  SpotDbusCanvas *p = self->proxy;
  char text[128];

  if (p == NULL)
    return;
  set_value (self, "State", spot_dbus_canvas_get_state (p));
  set_value (self, "Version", spot_dbus_canvas_get_version (p));
  g_snprintf (text, sizeof text, "%u of %u", spot_dbus_canvas_get_shard_index (p),
              spot_dbus_canvas_get_shard_count (p));
  set_value (self, "Shard", text);
  g_snprintf (text, sizeof text, "%u / %u", spot_dbus_canvas_get_product_count (p),
              spot_dbus_canvas_get_owned_product_count (p));
  set_value (self, "ProductCount", text);
  g_snprintf (text, sizeof text, "%u / %u", spot_dbus_canvas_get_connections_up (p),
              spot_dbus_canvas_get_connections_total (p));
  set_value (self, "Connections", text);
#define U64(name, getter)                                                                          \
  g_snprintf (text, sizeof text, "%" G_GUINT64_FORMAT, spot_dbus_canvas_get_##getter (p));         \
  set_value (self, name, text)
  U64 ("MessagesReceived", messages_received);
  U64 ("TradesReceived", trades_received);
  U64 ("CandlesPublished", candles_published);
  U64 ("CandlesStored", candles_stored);
  U64 ("Reconnects", reconnects);
#undef U64
  g_snprintf (text, sizeof text, "%u", spot_dbus_canvas_get_sse_clients (p));
  set_value (self, "SseClients", text);
  set_value (self, "NatsStatus", spot_dbus_canvas_get_nats_status (p));
  set_value (self, "DatabaseStatus", spot_dbus_canvas_get_database_status (p));
}

/* ---- products ---- */

static void remove_clicked_cb (GtkButton *button, gpointer user_data);

static void
fill_products (SpotMonitorWindow *self, const char *const *products)
{
  GtkWidget *child;
  GtkListBoxRow *select = NULL;

  while ((child = gtk_widget_get_first_child (self->product_list)) != NULL)
    gtk_list_box_remove (GTK_LIST_BOX (self->product_list), child);
  for (guint i = 0; products != NULL && products[i] != NULL; i++)
    {
      GtkWidget *box = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 12);
      GtkWidget *label = gtk_label_new (products[i]);
      GtkWidget *remove = gtk_button_new_from_icon_name ("list-remove-symbolic");
      GtkWidget *row = gtk_list_box_row_new ();

      gtk_widget_set_hexpand (label, TRUE);
      gtk_label_set_xalign (GTK_LABEL (label), 0);
      gtk_widget_set_tooltip_text (remove, "Remove from the active set");
      g_object_set_data_full (G_OBJECT (remove), "product-id", g_strdup (products[i]), g_free);
      g_signal_connect (remove, "clicked", G_CALLBACK (remove_clicked_cb), self);
      gtk_box_append (GTK_BOX (box), label);
      gtk_box_append (GTK_BOX (box), remove);
      gtk_list_box_row_set_child (GTK_LIST_BOX_ROW (row), box);
      g_object_set_data_full (G_OBJECT (row), "product-id", g_strdup (products[i]), g_free);
      g_object_set_data (G_OBJECT (row), "remove-button", remove);
      gtk_list_box_append (GTK_LIST_BOX (self->product_list), row);
      if (g_strcmp0 (products[i], self->selected_product) == 0)
        select = GTK_LIST_BOX_ROW (row);
    }
  if (select != NULL)
    gtk_list_box_select_row (GTK_LIST_BOX (self->product_list), select);
}

static void
list_products_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  SpotMonitorWindow *self = user_data;
  g_autoptr (GError) error = NULL;
  g_auto (GStrv) products = NULL;

  if (!spot_dbus_canvas_call_list_products_finish (SPOT_DBUS_CANVAS (source), &products, result,
                                                   &error))
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        show_error (self, error);
      return;
    }
  fill_products (self, (const char *const *)products);
}

static void
reload_products (SpotMonitorWindow *self)
{
  if (self->proxy == NULL)
    return;
  spot_dbus_canvas_call_list_products (self->proxy, self->cancellable, list_products_cb, self);
}

static void
change_products_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  SpotMonitorWindow *self = user_data;
  g_autoptr (GError) error = NULL;
  g_autoptr (GVariant) reply = g_dbus_proxy_call_finish (G_DBUS_PROXY (source), result, &error);

  if (reply == NULL)
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        show_error (self, error);
      return;
    }
  show_error (self, NULL);
  /* ProductsChanged refreshes the list; an idempotent add changes nothing. */
}

static void
call_change (SpotMonitorWindow *self, const char *method, const char *product_id)
{
  const char *ids[] = { product_id, NULL };

  if (self->proxy == NULL)
    return;
  g_dbus_proxy_call (G_DBUS_PROXY (self->proxy), method, g_variant_new ("(^as)", ids),
                     G_DBUS_CALL_FLAGS_NONE, -1, self->cancellable, change_products_cb, self);
}

static void
add_clicked_cb (GtkWidget *widget, gpointer user_data)
{
  SpotMonitorWindow *self = user_data;
  g_autofree char *id
      = g_strstrip (g_ascii_strup (gtk_editable_get_text (GTK_EDITABLE (self->entry)), -1));
  g_autoptr (GError) error = NULL;

  /* The service validates too; checking here keeps the message next to
   * the entry without a round trip. */
  if (!spot_product_id_validate (id, &error))
    {
      show_error (self, error);
      return;
    }
  gtk_editable_set_text (GTK_EDITABLE (self->entry), "");
  call_change (self, "AddProducts", id);
}

static void
remove_clicked_cb (GtkButton *button, gpointer user_data)
{
  call_change (user_data, "RemoveProducts", g_object_get_data (G_OBJECT (button), "product-id"));
}

/* ---- candle ---- */

static void
candle_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  SpotMonitorWindow *self = user_data;
  g_autoptr (GError) error = NULL;
  g_autofree char *json = NULL;
  g_autoptr (JsonParser) parser = NULL;
  JsonObject *o;
  g_autofree char *text = NULL;
  g_autoptr (GDateTime) start = NULL;
  g_autofree char *start_text = NULL;

  if (!spot_dbus_canvas_call_get_candle_finish (SPOT_DBUS_CANVAS (source), &json, result, &error))
    {
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        return;
      g_dbus_error_strip_remote_error (error);
      gtk_label_set_text (GTK_LABEL (self->candle_label), error->message);
      return;
    }
  parser = json_parser_new ();
  if (!json_parser_load_from_data (parser, json, -1, &error)
      || !JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
    {
      gtk_label_set_text (GTK_LABEL (self->candle_label), "unreadable candle");
      return;
    }
  o = json_node_get_object (json_parser_get_root (parser));
  start = g_date_time_new_from_unix_utc (json_object_get_int_member_with_default (o, "start", 0));
  start_text = start != NULL ? g_date_time_format (start, "%Y-%m-%d %H:%M UTC") : g_strdup ("?");
  text = g_strdup_printf (
      "%s %s from %s%s\nO %s  H %s  L %s  C %s  V %s",
      json_object_get_string_member_with_default (o, "product_id", "?"),
      json_object_get_string_member_with_default (o, "granularity", "?"), start_text,
      json_object_get_boolean_member_with_default (o, "complete", FALSE) ? " (complete)" : "",
      json_object_get_string_member_with_default (o, "open", "?"),
      json_object_get_string_member_with_default (o, "high", "?"),
      json_object_get_string_member_with_default (o, "low", "?"),
      json_object_get_string_member_with_default (o, "close", "?"),
      json_object_get_string_member_with_default (o, "volume", "?"));
  gtk_label_set_text (GTK_LABEL (self->candle_label), text);
}

static void
refresh_candle (SpotMonitorWindow *self)
{
  guint selected = gtk_drop_down_get_selected (GTK_DROP_DOWN (self->granularity));

  if (self->proxy == NULL || self->selected_product == NULL
      || selected >= G_N_ELEMENTS (granularities) - 1)
    return;
  spot_dbus_canvas_call_get_candle (self->proxy, self->selected_product, granularities[selected],
                                    self->cancellable, candle_cb, self);
}

static gboolean
candle_timer_cb (gpointer user_data)
{
  refresh_candle (user_data);
  return G_SOURCE_CONTINUE;
}

static void
row_selected_cb (GtkListBox *box, GtkListBoxRow *row, gpointer user_data)
{
  SpotMonitorWindow *self = user_data;

  if (row == NULL)
    return;
  g_free (self->selected_product);
  self->selected_product = g_strdup (g_object_get_data (G_OBJECT (row), "product-id"));
  refresh_candle (self);
}

static void
granularity_changed_cb (GObject *object, GParamSpec *pspec, gpointer user_data)
{
  refresh_candle (user_data);
}

/* ---- proxy ---- */

static void
properties_changed_cb (GDBusProxy *proxy, GVariant *changed, GStrv invalidated, gpointer user_data)
{
  refresh_properties (user_data);
}

static void
products_changed_cb (SpotDbusCanvas *proxy,
                     const char *const *added,
                     const char *const *removed,
                     gpointer user_data)
{
  reload_products (user_data);
}

static void
owner_changed_cb (GObject *object, GParamSpec *pspec, gpointer user_data)
{
  SpotMonitorWindow *self = user_data;
  g_autofree char *owner = g_dbus_proxy_get_name_owner (G_DBUS_PROXY (self->proxy));

  gtk_widget_set_visible (self->banner, owner == NULL);
  if (owner != NULL)
    {
      refresh_properties (self);
      reload_products (self);
    }
}

static void
disconnect_proxy (SpotMonitorWindow *self)
{
  if (self->proxy == NULL)
    return;
  g_clear_signal_handler (&self->props_id, self->proxy);
  g_clear_signal_handler (&self->products_id, self->proxy);
  g_clear_signal_handler (&self->owner_id, self->proxy);
  g_clear_object (&self->proxy);
}

void
spot_monitor_window_set_proxy (SpotMonitorWindow *self, SpotDbusCanvas *proxy, const char *reason)
{
  disconnect_proxy (self);
  if (proxy == NULL)
    {
      gtk_label_set_text (GTK_LABEL (self->banner), reason != NULL ? reason : "Not connected");
      gtk_widget_set_visible (self->banner, TRUE);
      return;
    }
  self->proxy = g_object_ref (proxy);
  self->props_id
      = g_signal_connect (proxy, "g-properties-changed", G_CALLBACK (properties_changed_cb), self);
  self->products_id
      = g_signal_connect (proxy, "products-changed", G_CALLBACK (products_changed_cb), self);
  self->owner_id
      = g_signal_connect (proxy, "notify::g-name-owner", G_CALLBACK (owner_changed_cb), self);
  gtk_label_set_text (GTK_LABEL (self->banner),
                      "spot-canvas is not running (no owner of " SPOT_DBUS_NAME ")");
  owner_changed_cb (NULL, NULL, self);
}

static void
reconnect_done_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GError) error = NULL;

  if (!spot_dbus_canvas_call_reconnect_finish (SPOT_DBUS_CANVAS (source), result, &error)
      && !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    show_error (user_data, error);
}

static void
reconnect_clicked_cb (GtkButton *button, gpointer user_data)
{
  SpotMonitorWindow *self = user_data;

  if (self->proxy != NULL)
    spot_dbus_canvas_call_reconnect (self->proxy, self->cancellable, reconnect_done_cb, self);
}

/* ---- test hooks ---- */

const char *
spot_monitor_window_get_state_text (SpotMonitorWindow *self)
{
  return gtk_label_get_text (g_hash_table_lookup (self->value_labels, "State"));
}

const char *
spot_monitor_window_get_candle_text (SpotMonitorWindow *self)
{
  return gtk_label_get_text (GTK_LABEL (self->candle_label));
}

const char *
spot_monitor_window_get_error_text (SpotMonitorWindow *self)
{
  return gtk_label_get_text (GTK_LABEL (self->error_label));
}

static GtkListBoxRow *
find_row (SpotMonitorWindow *self, const char *product_id)
{
  for (GtkWidget *child = gtk_widget_get_first_child (self->product_list); child != NULL;
       child = gtk_widget_get_next_sibling (child))
    if (g_strcmp0 (g_object_get_data (G_OBJECT (child), "product-id"), product_id) == 0)
      return GTK_LIST_BOX_ROW (child);
  return NULL;
}

guint
spot_monitor_window_get_product_rows (SpotMonitorWindow *self)
{
  guint n = 0;

  for (GtkWidget *child = gtk_widget_get_first_child (self->product_list); child != NULL;
       child = gtk_widget_get_next_sibling (child))
    n++;
  return n;
}

gboolean
spot_monitor_window_has_product_row (SpotMonitorWindow *self, const char *product_id)
{
  return find_row (self, product_id) != NULL;
}

void
spot_monitor_window_click_add (SpotMonitorWindow *self, const char *product_id)
{
  gtk_editable_set_text (GTK_EDITABLE (self->entry), product_id);
  g_signal_emit_by_name (self->add_button, "clicked");
}

gboolean
spot_monitor_window_click_remove (SpotMonitorWindow *self, const char *product_id)
{
  GtkListBoxRow *row = find_row (self, product_id);

  if (row == NULL)
    return FALSE;
  g_signal_emit_by_name (g_object_get_data (G_OBJECT (row), "remove-button"), "clicked");
  return TRUE;
}

gboolean
spot_monitor_window_select_product (SpotMonitorWindow *self, const char *product_id)
{
  GtkListBoxRow *row = find_row (self, product_id);

  if (row == NULL)
    return FALSE;
  gtk_list_box_select_row (GTK_LIST_BOX (self->product_list), row);
  return TRUE;
}

/* ---- object ---- */

static GtkWidget *
section_title (const char *text)
{
  GtkWidget *label = gtk_label_new (text);

  gtk_label_set_xalign (GTK_LABEL (label), 0);
  gtk_widget_add_css_class (label, "heading");
  return label;
}

static void
spot_monitor_window_init (SpotMonitorWindow *self)
{
  GtkWidget *header = gtk_header_bar_new ();
  GtkWidget *reconnect = gtk_button_new_with_label ("Reconnect");
  GtkWidget *outer = gtk_box_new (GTK_ORIENTATION_VERTICAL, 12);
  GtkWidget *columns = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 24);
  GtkWidget *grid = gtk_grid_new ();
  GtkWidget *right = gtk_box_new (GTK_ORIENTATION_VERTICAL, 8);
  GtkWidget *add_box = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 6);
  GtkWidget *scroller = gtk_scrolled_window_new ();
  GtkWidget *status_box = gtk_box_new (GTK_ORIENTATION_VERTICAL, 8);

  self->cancellable = g_cancellable_new ();
  self->value_labels = g_hash_table_new (g_str_hash, g_str_equal);

  gtk_window_set_title (GTK_WINDOW (self), "spot-canvas monitor");
  gtk_window_set_default_size (GTK_WINDOW (self), 860, 560);
  gtk_widget_set_tooltip_text (reconnect, "Reopen every exchange connection");
  g_signal_connect (reconnect, "clicked", G_CALLBACK (reconnect_clicked_cb), self);
  gtk_header_bar_pack_end (GTK_HEADER_BAR (header), reconnect);
  gtk_window_set_titlebar (GTK_WINDOW (self), header);

  gtk_widget_set_margin_start (outer, 18);
  gtk_widget_set_margin_end (outer, 18);
  gtk_widget_set_margin_top (outer, 12);
  gtk_widget_set_margin_bottom (outer, 12);

  self->banner = gtk_label_new ("Connecting…");
  gtk_label_set_wrap (GTK_LABEL (self->banner), TRUE);
  gtk_widget_add_css_class (self->banner, "warning");
  gtk_box_append (GTK_BOX (outer), self->banner);
  self->error_label = gtk_label_new ("");
  gtk_label_set_wrap (GTK_LABEL (self->error_label), TRUE);
  gtk_label_set_selectable (GTK_LABEL (self->error_label), TRUE);
  gtk_widget_add_css_class (self->error_label, "error");
  gtk_widget_set_visible (self->error_label, FALSE);
  gtk_box_append (GTK_BOX (outer), self->error_label);

  gtk_grid_set_row_spacing (GTK_GRID (grid), 4);
  gtk_grid_set_column_spacing (GTK_GRID (grid), 16);
  for (guint i = 0; i < G_N_ELEMENTS (status_rows); i++)
    {
      GtkWidget *caption = gtk_label_new (status_rows[i].caption);
      GtkWidget *value = gtk_label_new ("—");

      gtk_label_set_xalign (GTK_LABEL (caption), 0);
      gtk_widget_add_css_class (caption, "dim-label");
      gtk_label_set_xalign (GTK_LABEL (value), 0);
      gtk_label_set_selectable (GTK_LABEL (value), TRUE);
      gtk_widget_add_css_class (value, "numeric");
      gtk_widget_set_name (value, status_rows[i].property);
      gtk_grid_attach (GTK_GRID (grid), caption, 0, (int)i, 1, 1);
      gtk_grid_attach (GTK_GRID (grid), value, 1, (int)i, 1, 1);
      g_hash_table_insert (self->value_labels, (gpointer)status_rows[i].property, value);
    }
  gtk_box_append (GTK_BOX (status_box), section_title ("Service"));
  gtk_box_append (GTK_BOX (status_box), grid);
  gtk_box_append (GTK_BOX (columns), status_box);

  gtk_widget_set_hexpand (right, TRUE);
  gtk_box_append (GTK_BOX (right), section_title ("Products"));
  self->entry = gtk_entry_new ();
  gtk_entry_set_placeholder_text (GTK_ENTRY (self->entry), "BTC-USD");
  gtk_widget_set_hexpand (self->entry, TRUE);
  self->add_button = gtk_button_new_with_label ("Add");
  g_signal_connect (self->add_button, "clicked", G_CALLBACK (add_clicked_cb), self);
  g_signal_connect (self->entry, "activate", G_CALLBACK (add_clicked_cb), self);
  gtk_box_append (GTK_BOX (add_box), self->entry);
  gtk_box_append (GTK_BOX (add_box), self->add_button);
  gtk_box_append (GTK_BOX (right), add_box);

  self->product_list = gtk_list_box_new ();
  gtk_list_box_set_selection_mode (GTK_LIST_BOX (self->product_list), GTK_SELECTION_SINGLE);
  g_signal_connect (self->product_list, "row-selected", G_CALLBACK (row_selected_cb), self);
  gtk_scrolled_window_set_child (GTK_SCROLLED_WINDOW (scroller), self->product_list);
  gtk_scrolled_window_set_policy (GTK_SCROLLED_WINDOW (scroller), GTK_POLICY_NEVER,
                                  GTK_POLICY_AUTOMATIC);
  gtk_widget_set_vexpand (scroller, TRUE);
  gtk_box_append (GTK_BOX (right), scroller);

  gtk_box_append (GTK_BOX (right), section_title ("Live candle of the selected product"));
  self->granularity = gtk_drop_down_new_from_strings (granularities);
  g_signal_connect (self->granularity, "notify::selected", G_CALLBACK (granularity_changed_cb),
                    self);
  gtk_box_append (GTK_BOX (right), self->granularity);
  self->candle_label = gtk_label_new ("Select a product");
  gtk_label_set_xalign (GTK_LABEL (self->candle_label), 0);
  gtk_label_set_selectable (GTK_LABEL (self->candle_label), TRUE);
  gtk_widget_add_css_class (self->candle_label, "monospace");
  gtk_box_append (GTK_BOX (right), self->candle_label);
  gtk_box_append (GTK_BOX (columns), right);

  gtk_widget_set_vexpand (columns, TRUE);
  gtk_box_append (GTK_BOX (outer), columns);
  gtk_window_set_child (GTK_WINDOW (self), outer);

  self->candle_timer = g_timeout_add_seconds (1, candle_timer_cb, self);
}

static void
spot_monitor_window_dispose (GObject *object)
{
  SpotMonitorWindow *self = SPOT_MONITOR_WINDOW (object);

  g_cancellable_cancel (self->cancellable);
  g_clear_handle_id (&self->candle_timer, g_source_remove);
  disconnect_proxy (self);
  G_OBJECT_CLASS (spot_monitor_window_parent_class)->dispose (object);
}

static void
spot_monitor_window_finalize (GObject *object)
{
  SpotMonitorWindow *self = SPOT_MONITOR_WINDOW (object);

  g_clear_object (&self->cancellable);
  g_hash_table_unref (self->value_labels);
  g_free (self->selected_product);
  G_OBJECT_CLASS (spot_monitor_window_parent_class)->finalize (object);
}

static void
spot_monitor_window_class_init (SpotMonitorWindowClass *klass)
{
  G_OBJECT_CLASS (klass)->dispose = spot_monitor_window_dispose;
  G_OBJECT_CLASS (klass)->finalize = spot_monitor_window_finalize;
}

SpotMonitorWindow *
spot_monitor_window_new (GtkApplication *application)
{
  return g_object_new (SPOT_TYPE_MONITOR_WINDOW, "application", application, NULL);
}
