"""Create neutron's schema from its SQLAlchemy models, in a fresh database.

Neutron 29's alembic migrations do not run on PostgreSQL (one migration uses MySQL's CONVERT) nor on SQLite
(ALTER of constraints), so, like neutron's own unit tests, build the tables straight from the models; up.sh then
runs `neutron-db-manage stamp heads` so neutron sees an up-to-date schema.
Usage: neutron_schema.py DBNAME   (PostgreSQL on 127.0.0.1:5432, user postgres, trust auth)
"""

import sys

import psycopg2
import sqlalchemy as sa
from neutron.db.migration.models import head

name = sys.argv[1]
conn = psycopg2.connect(host="127.0.0.1", port=5432, user="postgres", dbname="postgres")
conn.autocommit = True
cur = conn.cursor()
cur.execute(f'DROP DATABASE IF EXISTS "{name}"')
cur.execute(f'CREATE DATABASE "{name}"')
conn.close()
engine = sa.create_engine(f"postgresql+psycopg2://postgres@127.0.0.1:5432/{name}")
head.get_metadata().create_all(engine)
engine.dispose()
print("neutron tables:", len(head.get_metadata().tables))
