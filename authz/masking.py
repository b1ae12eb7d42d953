"""Masked forms of personal details, for readers without ``read_pii`` at the record's area.

The masks keep just enough to tell records apart and to recognise one's own data on a
screen (surname, birthplace digits of an ID, mobile network and last digits), which is
what officers and supervisors need; everything that identifies a person is replaced.
``None`` stays ``None`` so an absent value is not mistaken for a hidden one.
"""

from __future__ import annotations

import functools
import re

MASK = "*"
#: What replaces the hidden end of an address; fixed, so its length reveals nothing.
ADDRESS_MASK = "****"


def mask_name(name: str | None) -> str | None:
    """``张三丰`` -> ``张**``: the first character (usually the surname) and one ``*`` per other."""
    if name is None:
        return None
    if len(name) <= 1:
        return MASK * len(name) if name else name
    return name[0] + MASK * (len(name) - 1)


def mask_id_number(id_number: str | None) -> str | None:
    """``23010219900101123X`` -> ``230102********123X``: region code and last 4 kept.

    The birth date and sequence are hidden. Anything shorter than 11 characters is
    masked entirely, as keeping 6 + 4 of it would show almost all of it.
    """
    if id_number is None:
        return None
    if len(id_number) <= 10:
        return MASK * len(id_number)
    return id_number[:6] + MASK * (len(id_number) - 10) + id_number[-4:]


_SEPARATORS = re.compile(r"[\s\-()（）]+")


def _mask_local(number: str) -> str:
    """A local landline number: keep the last 4 (8 digits), 3 (7 digits) or 2 (shorter)."""
    keep = 4 if len(number) >= 8 else 3 if len(number) == 7 else 2
    keep = min(keep, max(len(number) - 2, 0))
    return MASK * (len(number) - keep) + number[len(number) - keep :]


def mask_phone(phone: str | None) -> str | None:
    """Mobile ``13800000000`` -> ``138****0000``; landline keeps area code and last digits.

    * Mobile (11 digits starting with 1, optionally ``+86``/``86``): first 3, last 4.
    * Landline with a written area code (``0451-86123456``, ``(0451)86123456``): the
      area code and its separator as written, then the local number with its last 4
      (8 digits), 3 (7 digits) or 2 (shorter) digits kept.
    * Landline without separator starting with ``0``: area code of 3 digits for
      ``010``/``02x``, else 4, then as above.
    * Anything else: only the last 2 characters kept.
    """
    if phone is None:
        return None
    raw = phone.strip()
    digits = _SEPARATORS.sub("", raw)
    plus = ""
    if digits.startswith("+86"):
        plus, digits = "+86", digits[3:]
    elif digits.startswith("86") and len(digits) == 13:
        plus, digits = "86", digits[2:]
    if not digits.isdigit():
        return MASK * max(len(raw) - 2, 0) + raw[-2:] if len(raw) > 2 else MASK * len(raw)
    if len(digits) == 11 and digits[0] == "1":
        return plus + digits[:3] + MASK * 4 + digits[7:]
    if digits[0] == "0" and len(digits) >= 9:
        m = re.fullmatch(r"\s*(\(?（?0\d{2,3}[)）]?[\s\-]*)([\d\s\-]+)", raw.removeprefix("+86"))
        if m and _SEPARATORS.search(m.group(1)):
            area, local = m.group(1), _SEPARATORS.sub("", m.group(2))
        else:
            n = 3 if digits[1] in "12" else 4
            area, local = digits[:n], digits[n:]
        return plus + area + _mask_local(local)
    return plus + _mask_local(digits)


#: The markers after which an address stops being about the neighbourhood and starts
#: being about the household. At one position the longer one wins (街道 before 街).
_ADDRESS_MARKERS = re.compile(r"街道|社区|路|街|村")
_DISTRICT_MARKER = re.compile(r"[区县旗]")
_CITY_MARKER = re.compile(r"市")


def mask_address(address: str | None) -> str | None:
    """Keep the address up to and including its first 街道/社区/路/街/村; mask the rest.

    ``黑龙江省哈尔滨市道里区新华街道乡政社区3栋2单元501`` -> ``黑龙江省哈尔滨市道里区新华街道****``;
    ``中山路12号`` -> ``中山路****``. The first marker (not the last) is used, so an
    address that names a street and then a community keeps only the street: masking
    too much is harmless, too little is not. An address with none of the markers keeps
    its administrative part up to the first 区/县/旗, else up to the first 市, else
    nothing (the first, because 小区 also ends in 区). A fixed
    ``****`` replaces the rest whatever its length; an address ending at the marker is
    returned whole, as there is nothing after it to hide.
    """
    if address is None:
        return None
    m = _ADDRESS_MARKERS.search(address)
    if m is not None:
        end = m.end()
    else:
        m = _DISTRICT_MARKER.search(address) or _CITY_MARKER.search(address)
        end = m.end() if m is not None else 0
    if end >= len(address):
        return address
    return address[:end] + ADDRESS_MASK


#: Each kind of personal column (``db.registration.personal``) and its mask.
MASKS = {
    "name": mask_name,
    "id_number": mask_id_number,
    "phone": mask_phone,
    "address": mask_address,
    "withheld": lambda _value: ADDRESS_MASK,  # free text or part of an address: a fixed ****
    "hidden": lambda _value: None,  # shown as null (a birth date: the age is shown instead)
}


def personal_detail_keys() -> dict[str, dict[str, object]]:
    """The personal keys of each resource's audit ``detail`` (the before/after of its writes)
    and their masks: the personal columns declared on its table (``db.registration``).

    Keys are the column names the writes log (``id_number``); a key is matched with ``_``
    dropped and case ignored, so ``idNumber`` is the same key. A resource whose table
    declares no personal column has no personal keys (a staff account's display name is
    shown in clear to whoever may read users).
    """
    import db.models  # noqa: F401 - every table declared
    from db.registration import personal_columns, place_bound_tables

    out: dict[str, dict[str, object]] = {}
    for table in place_bound_tables():
        columns = personal_columns(table.model)
        if columns:
            out.setdefault(table.resource, {}).update({c: MASKS[kind] for c, kind in columns.items()})
    return out


def _key(name: str) -> str:
    return name.replace("_", "").lower()


def _personal() -> dict[str, dict[str, object]]:
    """The masks by resource and normalised key, for the tables declared now.

    ``mask_detail`` runs for every row of an audit page; the keys are rebuilt only when a
    table has been declared since (a test's throwaway domain), not for each row.
    """
    import db.models  # noqa: F401 - every table declared
    from db.registration import place_bound_tables

    return _personal_for(place_bound_tables())


@functools.lru_cache(maxsize=4)
def _personal_for(_tables: tuple) -> dict[str, dict[str, object]]:
    return {resource: {_key(k): m for k, m in keys.items()} for resource, keys in personal_detail_keys().items()}


def mask_detail(resource: str | None, detail):
    """``detail`` with ``resource``'s personal values masked (at any depth), and whether it held any.

    The second value is True only if a personal value was present and not ``None``: only
    then does showing the detail in clear need a ``pii.read`` row.
    """
    masks = _personal().get(resource or "")
    if not masks or detail is None:
        return detail, False
    found = False

    def walk(value):
        nonlocal found
        if isinstance(value, dict):
            out = {}
            for k, v in value.items():
                mask = masks.get(_key(k)) if isinstance(k, str) else None
                if mask is None or v is None:
                    out[k] = walk(v)
                else:
                    found = True
                    out[k] = mask(v if isinstance(v, str) else str(v)) if not isinstance(v, (dict, list)) else ADDRESS_MASK
            return out
        if isinstance(value, list):
            return [walk(v) for v in value]
        return value

    return walk(detail), found
