"""Chalice entry point: registers the blueprints and scheduled jobs. No business logic here."""

from chalice import Chalice

from chalicelib.api import audit, auth, health, pricing, products, tenants

app = Chalice(app_name="lending-api")
app.api.cors = False

app.register_blueprint(auth.auth_bp)
for blueprint in (health.bp, tenants.bp, audit.bp, products.bp, pricing.bp):
    app.register_blueprint(blueprint)
