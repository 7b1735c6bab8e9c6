"""How every record's Arrow schema is built from its (name, type, nullable, doc) fields."""

from __future__ import annotations

import pyarrow as pa


def schema_of(fields: list, record: str, version: str) -> pa.Schema:
    """Each field's doc in its metadata (the corpus card reads them); the record's name and schema
    version in the schema's, which readers check."""
    return pa.schema([pa.field(name, typ, nullable, {"doc": doc}) for name, typ, nullable, doc in fields],
                     metadata={"tunescribe.record": record, "tunescribe.schema_version": version})
