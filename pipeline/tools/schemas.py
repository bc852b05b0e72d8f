"""Writes the checked-in curated schemas: ``python -m pipeline.tools.schemas``.

``components/data_validation/schemas/quickdraw.pbtxt`` (the 345 official classes) and
``demo.pbtxt`` (the demo corpus's classes) are this module's output, so a reviewer reads
the constraints in ``components.data_validation.schema.constrain`` and a test checks that
the files are what the code writes. Both allow every ISO 3166-1 alpha-2 country code
(below, from tzdata's ``iso3166.tab``) and ``ZZ``, the corpus's unknown country, and the conversion's default
``--max-points``.
"""

from __future__ import annotations

import argparse
import os

from components.conversion.config import DEFAULT_MAX_POINTS
from components.data_validation import schema as schema_lib
from components.data_validation.config import BUILT_IN_SCHEMAS, SCHEMAS_DIR, built_in_path
from pipeline.tools.classes import OFFICIAL_CLASSES

ISO_COUNTRIES: tuple[str, ...] = tuple(
    """
    AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR
    BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ
    EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW
    GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY
    KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV
    MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY
    QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG
    TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM
    ZW
    """.split()
)
UNKNOWN_COUNTRY = "ZZ"  # what the corpus records when the country is unknown (a user-assigned ISO code)
HEADER = (
    "# Curated schema written by `python -m pipeline.tools.schemas` from\n"
    "# components/data_validation/schema.py (constrain); edit that code, not this file.\n"
)


def classes_of(name: str) -> tuple[str, ...]:
    """The class list of a built-in schema."""
    if name == "quickdraw":
        return OFFICIAL_CLASSES
    if name == "demo":
        from pipeline.tools.demo_data import SHAPES

        return tuple(SHAPES)
    raise ValueError(f"no built-in schema {name!r}; built in: {', '.join(BUILT_IN_SCHEMAS)}")


def built_in_text(name: str) -> str:
    countries = (*ISO_COUNTRIES, UNKNOWN_COUNTRY)
    schema = schema_lib.constrain(schema_lib.base_schema(), classes_of(name), countries, DEFAULT_MAX_POINTS)
    return HEADER + schema_lib.to_text(schema)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output-dir", default=SCHEMAS_DIR)
    args = parser.parse_args(argv)
    for name in BUILT_IN_SCHEMAS:
        path = built_in_path(name, args.output_dir)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8") as f:
            f.write(built_in_text(name))
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
