#!/usr/bin/env python3
"""A second verifier of TICA certificate QR codes, written from docs/qr-format.md alone.

Usage:
    verify_qr.py --jwks KEYS.json [--issuer BASE_URL] [QR_TEXT ...]

With no QR_TEXT arguments, reads one QR text a line from standard input (blank lines skipped).
Prints one JSON object a line, in input order:

    {"text": ..., "verdict": "valid", "reason": null, "detail": null, "claims": {...}}
    {"text": ..., "verdict": "not_genuine", "reason": "bad_signature", "detail": "...",
     "claims": null}

`reason` is one of the specification's §8: malformed, wrong_issuer, unknown_key, bad_signature,
key_not_in_force. Exit status: 0 when every text is valid, 1 when one is not genuine, 2 when the
key set or the arguments cannot be used.

Section numbers (§) refer to docs/qr-format.md.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import datetime
import json
import sys
from dataclasses import dataclass

import cbor2
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey


class NotGenuine(Exception):
    """A verdict of not genuine, with the specification's reason (§8)."""

    def __init__(self, reason: str, detail: str):
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


class KeySetError(Exception):
    """The key set cannot be used (§6.2): not a verdict on any certificate."""


def malformed(detail: str) -> NotGenuine:
    return NotGenuine("malformed", detail)


# ---- §3.2 base URL normalisation ----


def normalise_base(url: str) -> str:
    url = url.strip().rstrip("/")
    scheme_end = url.find("://")
    if scheme_end < 0:
        origin, path = url, ""
    else:
        slash = url.find("/", scheme_end + 3)
        if slash < 0:
            origin, path = url, ""
        else:
            origin, path = url[:slash], url[slash:]
    return origin.lower() + path


# ---- §3.3 reading a QR text ----


@dataclass
class Scanned:
    base_url: str
    cert_id: str
    fragment: str


def read_text(text: str) -> Scanned:
    text = text.strip()
    if "#" not in text:
        raise malformed("no payload after '#'")
    address, fragment = text.split("#", 1)
    cut = address.rfind("/C/")
    if cut < 0:
        cut = address.rfind("/c/")
    if cut < 0:
        raise malformed("the address names no certificate (no /C/)")
    base, cert_id = address[:cut], address[cut + 3 :]
    if not cert_id or "/" in cert_id:
        raise malformed("the address names no certificate")
    return Scanned(normalise_base(base), cert_id.lower(), fragment)


def is_digits(text: str) -> bool:
    return all("0" <= c <= "9" for c in text)


# ---- §4.1 digits ----

DIGITS_FOR_BYTES = {0: 0, 1: 3, 2: 5, 3: 8, 4: 10, 5: 13, 6: 15, 7: 17}
BYTES_FOR_REST = {d: k for k, d in DIGITS_FOR_BYTES.items() if k < 7}


def digits_to_bytes(digits: str) -> bytes:
    full, rest = divmod(len(digits), 17)
    if rest not in BYTES_FOR_REST:
        raise malformed(f"{len(digits)} digits is no valid length")
    groups = [(digits[i * 17 : (i + 1) * 17], 7) for i in range(full)]
    if rest:
        groups.append((digits[full * 17 :], BYTES_FOR_REST[rest]))
    out = bytearray()
    for group, k in groups:
        value = int(group)
        if value >= 256**k:
            raise malformed(f"the digit group {group} does not fit {k} bytes")
        out += value.to_bytes(k, "big")
    return bytes(out)


def bytes_to_digits(data: bytes) -> str:
    """The issuer's direction (§4.1), for completeness and self-tests."""
    out = []
    for i in range(0, len(data), 7):
        group = data[i : i + 7]
        out.append(str(int.from_bytes(group, "big")).zfill(DIGITS_FOR_BYTES[len(group)]))
    return "".join(out)


# ---- §5.1 base32 ----

BASE32_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"


def base32_to_bytes(text: str) -> bytes:
    if not text or any(c not in BASE32_ALPHABET for c in text):
        raise malformed("the payload is neither digits nor upper-case base32")
    try:
        data = base64.b32decode(text + "=" * (-len(text) % 8))
    except (binascii.Error, ValueError) as error:
        raise malformed(f"the payload is not base32: {error}") from None
    # Canonical only: no unused bits set, no length that no byte string encodes.
    if base64.b32encode(data).decode().rstrip("=") != text:
        raise malformed("the payload is not canonical base32")
    return data


# ---- payload → claims bytes and signature ----


def split_payload(fragment: str) -> tuple[bytes, bytes]:
    if is_digits(fragment):
        data = digits_to_bytes(fragment)
        if len(data) <= 64:
            raise malformed("the payload is not longer than a signature")
        return data[:-64], data[-64:]
    envelope = decode_cbor(base32_to_bytes(fragment), "the version 1 envelope")
    if (
        not isinstance(envelope, list)
        or len(envelope) != 2
        or not all(isinstance(part, bytes) for part in envelope)
    ):
        raise malformed("the version 1 envelope is not [claims, signature] byte strings")
    return envelope[0], envelope[1]


def decode_cbor(data: bytes, what: str):
    try:
        return cbor2.loads(data)
    except Exception as error:  # cbor2 raises several kinds on bad input
        raise malformed(f"{what} is not CBOR: {error}") from None


# ---- §4.2 and §5.2 claims ----


def is_uint(value) -> bool:
    # CBOR true/false decode to Python's bool, which is an int: not an integer here.
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def gb18030_text(value, what: str) -> str:
    if not isinstance(value, bytes):
        raise malformed(f"the {what} is not a byte string")
    try:
        return value.decode("gb18030", errors="strict")
    except UnicodeDecodeError:
        raise malformed(f"the {what} is not GB 18030 text") from None


def text(value, what: str) -> str:
    if not isinstance(value, str):
        raise malformed(f"the {what} is not a text string")
    return value


GRADES = {1: "合格", 2: "优秀"}


def read_claims(claims_bytes: bytes, cert_id: str) -> dict:
    items = decode_cbor(claims_bytes, "the claims")
    if not isinstance(items, list):
        raise malformed("the claims are not an array")
    if not items or not is_uint(items[0]):
        raise malformed("the claims carry no version")
    version = items[0]
    if version not in (1, 2):
        raise malformed(f"unknown payload version {version}")
    if len(items) != 10:
        raise malformed(f"version {version} claims have ten members, not {len(items)}")
    _, kid, number, name, masked, school, competency, grade, issuer, issued = items
    if version == 1:
        # §5.2: all text; the grade one of two texts, the date a day of the calendar.
        if text(grade, "grade") not in GRADES.values():
            raise malformed("the grade is neither 合格 nor 优秀")
        if day_of(text(issued, "issue date")) is None:
            raise malformed("the issue date is not YYYY-MM-DD")
        return {
            "version": 1,
            "kid": text(kid, "key id"),
            "id": cert_id,
            "number": text(number, "number"),
            "name": text(name, "name"),
            "id_masked": text(masked, "masked ID number"),
            "school": text(school, "school"),
            "competency": text(competency, "competency"),
            "grade": text(grade, "grade"),
            "issuer": text(issuer, "issuer"),
            "issued": text(issued, "issue date"),
        }
    if not is_uint(grade) or grade not in GRADES:
        raise malformed("the grade is neither 1 (合格) nor 2 (优秀)")
    if not is_uint(issued):
        raise malformed("the issue date is not an unsigned integer")
    y, m, d = issued // 10000, issued // 100 % 100, issued % 100
    if not (1900 <= y <= 9999 and is_day(y, m, d)):
        raise malformed(f"the issue date {issued} is not YYYYMMDD")
    return {
        "version": 2,
        "kid": text(kid, "key id"),
        "id": cert_id,
        "number": text(number, "number"),
        "name": gb18030_text(name, "name"),
        "id_masked": text(masked, "masked ID number"),
        "school": gb18030_text(school, "school"),
        "competency": text(competency, "competency"),
        "grade": GRADES[grade],
        "issuer": gb18030_text(issuer, "issuer"),
        "issued": f"{y:04d}-{m:02d}-{d:02d}",
    }


# ---- §4.3 and §5.3 what is signed ----


def signed_bytes(version: int, base_url: str, cert_id: str, claims_bytes: bytes) -> bytes:
    us = b"\x1f"
    if version == 2:
        return b"tica-qr-v2" + us + base_url.encode() + us + cert_id.encode() + us + claims_bytes
    return cert_id.encode() + us + claims_bytes


# ---- §6 keys ----

EPOCH = datetime.date(1970, 1, 1)
CHINA = datetime.timezone(datetime.timedelta(hours=8))


@dataclass
class Key:
    public: Ed25519PublicKey
    first_day: int | None  # China day of `activated`, days since 1970-01-01
    last_day: int | None  # China day of `retired`


def china_day(rfc3339: str) -> int:
    """The day number, in China's calendar (UTC+8), of `YYYY-MM-DDTHH:MM:SS[.f]Z`."""
    if not rfc3339.endswith("Z") or "T" not in rfc3339:
        raise ValueError(f"not an RFC 3339 UTC time: {rfc3339}")
    date_part, time_part = rfc3339[:-1].split("T", 1)
    seconds_part = time_part.split(".", 1)[0]
    instant = datetime.datetime.strptime(
        f"{date_part}T{seconds_part}", "%Y-%m-%dT%H:%M:%S"
    ).replace(tzinfo=datetime.timezone.utc)
    return (instant.astimezone(CHINA).date() - EPOCH).days


def day_of(date: str) -> int | None:
    """§6.3: the day of Y-M-D is the day of Y-M-01 plus D - 1; None when not YYYY-MM-DD."""
    parts = date.split("-")
    if len(date) != 10 or len(parts) != 3 or [len(p) for p in parts] != [4, 2, 2]:
        return None
    if not all(is_digits(p) for p in parts):
        return None
    y, m, d = (int(p) for p in parts)
    if y < 1 or not is_day(y, m, d):
        return None
    return (datetime.date(y, m, d) - EPOCH).days


def is_day(y: int, m: int, d: int) -> bool:
    """§4.2: whether Y-M-D is a day of the Gregorian calendar."""
    try:
        datetime.date(y, m, d)
    except ValueError:
        return False
    return True


def read_key_set(document) -> tuple[str | None, dict[str, Key]]:
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise KeySetError("the key set has no `keys` array")
    keys: dict[str, Key] = {}
    for entry in document["keys"]:
        if not isinstance(entry, dict):
            continue
        if entry.get("kty") != "OKP" or entry.get("crv") != "Ed25519":
            continue
        kid = entry.get("kid")
        x = entry.get("x")
        try:
            if not isinstance(x, str) or "=" in x:
                raise ValueError("no base64url x")
            raw = base64.urlsafe_b64decode(x + "=" * (-len(x) % 4))
            if len(raw) != 32:
                raise ValueError("x is not 32 bytes")
            public = Ed25519PublicKey.from_public_bytes(raw)
        except (ValueError, binascii.Error) as error:
            raise KeySetError(f"key {kid}: {error}") from None
        if not isinstance(kid, str):
            continue
        span = []
        for member in ("activated", "retired"):
            value = entry.get(member)
            if value is None:
                span.append(None)
            elif isinstance(value, str):
                try:
                    span.append(china_day(value))
                except ValueError as error:
                    raise KeySetError(f"key {kid}: `{member}`: {error}") from None
            else:
                raise KeySetError(f"key {kid}: `{member}` is not a string")
        if kid in keys:
            raise KeySetError(f"key {kid} is published twice")
        keys[kid] = Key(public, span[0], span[1])
    issuer = document.get("issuer")
    return (issuer if isinstance(issuer, str) else None), keys


# ---- §8 verifying ----


def verify(qr_text: str, issuer: str, keys: dict[str, Key]) -> dict:
    scanned = read_text(qr_text)  # step 1
    claims_bytes, signature = split_payload(scanned.fragment)  # step 1
    expected = normalise_base(issuer)
    if scanned.base_url != expected:  # step 2
        raise NotGenuine(
            "wrong_issuer", f"the QR code points at {scanned.base_url}, not at {expected}"
        )
    claims = read_claims(claims_bytes, scanned.cert_id)  # step 3
    key = keys.get(claims["kid"])
    if key is None:  # step 4
        raise NotGenuine("unknown_key", f"no published key {claims['kid']}")
    if len(signature) != 64:  # step 5
        raise malformed("the signature is not 64 bytes")
    message = signed_bytes(claims["version"], scanned.base_url, scanned.cert_id, claims_bytes)
    try:  # step 6
        key.public.verify(signature, message)
    except InvalidSignature:
        raise NotGenuine("bad_signature", "the signature does not hold") from None
    day = day_of(claims["issued"])  # step 7
    if (
        day is None
        or (key.first_day is not None and day < key.first_day)
        or (key.last_day is not None and day > key.last_day)
    ):
        raise NotGenuine(
            "key_not_in_force", f"key {claims['kid']} was not in force on {claims['issued']}"
        )
    return claims  # step 8


def answer(qr_text: str, issuer: str, keys: dict[str, Key]) -> dict:
    try:
        claims = verify(qr_text, issuer, keys)
    except NotGenuine as refusal:
        return {
            "text": qr_text,
            "verdict": "not_genuine",
            "reason": refusal.reason,
            "detail": refusal.detail,
            "claims": None,
        }
    return {"text": qr_text, "verdict": "valid", "reason": None, "detail": None, "claims": claims}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jwks", required=True, help="the issuer's key set (/.well-known/jwks.json)")
    parser.add_argument("--issuer", help="the issuer's base URL (default: the key set's `issuer`)")
    parser.add_argument("texts", nargs="*", help="QR texts (default: one a line on stdin)")
    args = parser.parse_args(argv)
    try:
        with open(args.jwks, encoding="utf-8") as file:
            issuer_of_set, keys = read_key_set(json.load(file))
    except (OSError, json.JSONDecodeError, KeySetError) as error:
        print(f"error: {args.jwks}: {error}", file=sys.stderr)
        return 2
    issuer = args.issuer or issuer_of_set
    if not issuer:
        print(
            f"error: {args.jwks} does not name its issuer: pass --issuer BASE_URL",
            file=sys.stderr,
        )
        return 2
    texts = args.texts or [line.rstrip("\r\n") for line in sys.stdin if line.strip()]
    status = 0
    for qr_text in texts:
        result = answer(qr_text, issuer, keys)
        if result["verdict"] != "valid":
            status = 1
        print(json.dumps(result, ensure_ascii=False), flush=True)
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
