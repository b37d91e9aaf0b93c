"""Web pages for people: dashboard, forms, public status pages and badges (server-rendered)."""
