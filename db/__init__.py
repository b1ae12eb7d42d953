"""Storage layer: SQLModel tables, engines and sessions, migrations, demo data."""
