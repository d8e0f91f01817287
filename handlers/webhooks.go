package handlers

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"patchboard/store"
	"patchboard/views"
)

// Webhooks manages the webhook subscriptions and their delivery logs
// (SPEC §13). Global Administrators only: a subscription sends the
// tenant's events to any address.
type Webhooks struct{ Deps }

// maxDeliveriesShown bounds a subscription's delivery log page.
const maxDeliveriesShown = 200

// List shows the subscriptions and the form for a new one.
func (h *Webhooks) List(c echo.Context) error {
	v := views.WebhooksView{Now: h.Now()}
	if c.QueryParam("deleted") != "" {
		v.Saved = "The subscription was deleted."
	}
	return h.render(c, http.StatusOK, v)
}

func (h *Webhooks) render(c echo.Context, status int, v views.WebhooksView) error {
	var err error
	if v.Webhooks, err = h.Store.Webhooks(c.Request().Context()); err != nil {
		return err
	}
	return Render(c, status, views.WebhooksPage(v))
}

// Create adds a subscription and shows its secret, once.
func (h *Webhooks) Create(c echo.Context) error {
	form, err := c.FormParams()
	if err != nil {
		return echo.NewHTTPError(http.StatusBadRequest, "The form could not be read.")
	}
	types := make([]store.EventType, 0, len(form["types"]))
	for _, t := range form["types"] {
		types = append(types, store.EventType(t))
	}
	w, err := h.Store.AddWebhook(c.Request().Context(), form.Get("url"), types, form.Get("secret"), Actor(c), h.Now())
	v := views.WebhooksView{Now: h.Now()}
	var ve *store.ValidationError
	switch {
	case err == nil:
		v.Created = &w
		return h.render(c, http.StatusOK, v)
	case errors.As(err, &ve):
		v.FormURL, v.FormTypes, v.Errors = form.Get("url"), types, ve.Errors
		return h.render(c, http.StatusUnprocessableEntity, v)
	}
	return err
}

func webhookID(c echo.Context) (int64, error) {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil {
		return 0, echo.NewHTTPError(http.StatusNotFound, "No such webhook subscription.")
	}
	return id, nil
}

// Delete removes a subscription with its log.
func (h *Webhooks) Delete(c echo.Context) error {
	id, err := webhookID(c)
	if err != nil {
		return err
	}
	if err := h.Store.DeleteWebhook(c.Request().Context(), id, Actor(c), h.Now()); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/tenant/webhooks?deleted=1")
}

// Log shows a subscription's deliveries, newest first.
func (h *Webhooks) Log(c echo.Context) error {
	id, err := webhookID(c)
	if err != nil {
		return err
	}
	v := views.WebhookLogView{Now: h.Now()}
	if c.QueryParam("redelivered") != "" {
		v.Saved = "The delivery is queued: it is sent again within seconds, with a fresh signature, and logged here."
	}
	ctx := c.Request().Context()
	if v.Webhook, err = h.Store.Webhook(ctx, id); err != nil {
		return err
	}
	if v.Deliveries, err = h.Store.WebhookDeliveries(ctx, id, maxDeliveriesShown); err != nil {
		return err
	}
	return Render(c, http.StatusOK, views.WebhookLogPage(v))
}

// Redeliver queues a logged delivery to be sent again.
func (h *Webhooks) Redeliver(c echo.Context) error {
	id, err := webhookID(c)
	if err != nil {
		return err
	}
	delivery, err := strconv.ParseInt(c.FormValue("delivery"), 10, 64)
	if err != nil {
		return echo.NewHTTPError(http.StatusNotFound, "No such delivery.")
	}
	if err := h.Store.RequestRedelivery(c.Request().Context(), id, delivery, Actor(c), h.Now()); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/tenant/webhooks/"+c.Param("id")+"?redelivered=1")
}
