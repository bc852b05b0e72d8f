"""The curated schema: what the pipeline expects of its examples, written as TFDV constraints.

SchemaGen infers a schema from whatever arrived, so a corpus with a new class or a
broken column validates against itself. The pipeline instead imports a curated schema
(``ImportSchemaGen``) and validates every run against it. ``constrain`` holds every
constraint we add on top of what inference finds, so the checked-in schemas
(``schemas/*.pbtxt``, written by ``python -m pipeline.tools.schemas``) and
``quickdraw schema infer``'s starting schema for a new corpus come from the same code:

- every stored feature present in every example, with the types and shapes SchemaGen
  infers (Transform reads its feature spec from this schema);
- ``word``: a string domain (the class list); a class outside it is an anomaly;
- ``countrycode``: two-letter codes, tolerating a small share of unseen values;
- ``recognized``: 0 or 1;
- ``ink``: 2 to ``max_points`` points (``ink_values``: 3 floats per point after the first): the checked-in schemas use the
  conversion's default ``--max-points``; a tighter bound in your own schema says "drawings
  this long are not expected" and stops a run that has them;
- environments: TRAINING has every feature, SERVING only ``ink`` (what the served
  signatures read).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from tensorflow_metadata.proto.v0 import schema_pb2

from components import features as F
from components.errors import UserError

TRAINING = "TRAINING"
SERVING = "SERVING"
MIN_POINTS = 2  # the conversion rejects drawings with fewer (`too_few_points`)
VALUES_PER_POINT = 3  # dx, dy, stroke_end
# The seed's ink holds the differences between consecutive points: a drawing of n points has n - 1 rows.


def ink_values(points: int) -> int:
    """How many ``ink`` values a drawing of ``points`` points has."""
    return (points - 1) * VALUES_PER_POINT


def points_of(values: int) -> int:
    """The number of points of a drawing with ``values`` ink values."""
    return values // VALUES_PER_POINT + 1


WORD_DOMAIN = "word"
COUNTRY_DOMAIN = "countrycode"
UNSEEN_COUNTRY_SHARE = 0.01  # country codes outside the domain tolerated before it is an anomaly

# (name, type, fixed shape or None for variable length)
_STORED = (
    (F.INK, schema_pb2.FLOAT, None),
    (F.SHAPE, schema_pb2.INT, 2),
    (F.CLASS_INDEX, schema_pb2.INT, 1),
    (F.WORD, schema_pb2.BYTES, 1),
    (F.KEY_ID, schema_pb2.BYTES, 1),
    (F.COUNTRYCODE, schema_pb2.BYTES, 1),
    (F.RECOGNIZED, schema_pb2.INT, 1),
)


class SchemaError(UserError, ValueError):
    """A schema that cannot be read or does not fit the pipeline's settings."""


def base_schema() -> schema_pb2.Schema:
    """The stored features with the types and shapes SchemaGen infers from a conversion's output."""
    schema = schema_pb2.Schema()
    for name, kind, size in _STORED:
        feature = schema.feature.add(name=name, type=kind)
        feature.presence.min_fraction = 1.0
        feature.presence.min_count = 1
        if size is None:
            feature.value_count.min = 1
        else:
            feature.shape.dim.add(size=size)
    return schema


def feature(schema: schema_pb2.Schema, name: str) -> schema_pb2.Feature:
    for f in schema.feature:
        if f.name == name:
            return f
    raise SchemaError(f"the schema has no feature {name!r}")


def constrain(
    schema: schema_pb2.Schema,
    classes: Iterable[str],
    countries: Iterable[str],
    max_points: int,
    unseen_country_share: float = UNSEEN_COUNTRY_SHARE,
) -> schema_pb2.Schema:
    """``schema`` with the pipeline's constraints (module docstring), in place and returned."""
    for domain_name in (WORD_DOMAIN, COUNTRY_DOMAIN):
        for i in reversed(range(len(schema.string_domain))):
            if schema.string_domain[i].name == domain_name:
                del schema.string_domain[i]
    schema.string_domain.add(name=WORD_DOMAIN, value=sorted(set(classes)))
    schema.string_domain.add(name=COUNTRY_DOMAIN, value=sorted(set(countries)))

    word = feature(schema, F.WORD)
    word.ClearField("domain_info")
    word.domain = WORD_DOMAIN
    country = feature(schema, F.COUNTRYCODE)
    country.ClearField("domain_info")
    country.domain = COUNTRY_DOMAIN
    country.distribution_constraints.min_domain_mass = 1.0 - unseen_country_share
    recognized = feature(schema, F.RECOGNIZED)
    recognized.ClearField("domain_info")
    recognized.int_domain.min = 0
    recognized.int_domain.max = 1
    key_id = feature(schema, F.KEY_ID)
    key_id.ClearField("domain_info")  # inference calls decimal ids an int domain; they are names
    ink = feature(schema, F.INK)
    ink.value_count.min = ink_values(MIN_POINTS)
    ink.value_count.max = ink_values(max_points)

    del schema.default_environment[:]
    schema.default_environment.extend([TRAINING, SERVING])
    for f in schema.feature:
        del f.not_in_environment[:]
        if f.name != F.INK:
            f.not_in_environment.append(SERVING)
    return schema


def to_text(schema: schema_pb2.Schema) -> str:
    """Canonical text format (stable field order), as ImportSchemaGen and TFDV read it."""
    from google.protobuf import text_format

    return text_format.MessageToString(schema)


def from_text(text: str, where: str) -> schema_pb2.Schema:
    from google.protobuf import text_format

    try:
        return text_format.Parse(text, schema_pb2.Schema())
    except text_format.ParseError as e:
        raise SchemaError(f"{where} is not a schema in text format: {e}") from None


def read(path: str) -> tuple[schema_pb2.Schema, str]:
    """A schema file (local or any TF filesystem) and the fingerprint of its bytes."""
    import tensorflow as tf

    try:
        with tf.io.gfile.GFile(path, "rb") as f:
            data = f.read()
    except (tf.errors.NotFoundError, tf.errors.PermissionDeniedError) as e:
        raise SchemaError(f"cannot read the schema {path}: {e.message}") from None
    return from_text(data.decode("utf-8"), path), hashlib.sha256(data).hexdigest()[:16]
