#!/usr/bin/env python3
"""An agency's integration with TICA, from a client generated from the protos (issue 17).

It generates Python stubs from `proto/` at run time (grpc_tools' protoc), connects to the gRPC
port over TLS (mutual TLS when given a client certificate), gets its bearer tokens by the OAuth 2.0
client-credentials grant (RFC 6749 §4.4) or takes them ready-made, and does the five things an
agency does, asserting what TICA answers:

1. a training provider pushes hours for 300 teachers, then pushes the same records again (the
   re-push changes nothing: every record UNCHANGED);
2. an HR office verifies 1,000 certificates by id and the same 1,000 by QR text (BatchVerify,
   no token);
3. an office pages through a county's teachers (ListTeachers to the last next_page_token) and
   exports the county's progress (ExportProgress, CSV);
4. the office starts an issuance run and follows it to its end (WatchIssuanceRun);
5. the office revokes a certificate with a reason, and Verify then says REVOKED.

Every refusal it provokes on purpose (no token, a bad token, a wrong role, another provider's
records, an invalid page token, batches over 1,000 items, a request over 2 MiB, a second
revocation, an ended run, the per-client rate limit, and with client credentials a wrong secret)
is decoded: the gRPC `grpc-status-details-bin` trailer as a google.rpc.Status, its ErrorInfo
(domain "tica", a reason of tica/common/v1/errors.proto, whose table gives the gRPC code it must
travel with), its LocalizedMessage in the language asked, and the other details (BadRequest,
PreconditionFailure, ResourceInfo, RetryInfo).

Output: one JSON line on stdout summing up what was done; exit status 0 when every assertion
held, 1 when one did not (the reason on stderr and in the JSON), 2 when it could not start.
Only the standard library, grpcio, grpcio-tools, protobuf and googleapis-common-protos.
"""

import argparse
import base64
import csv
import importlib
import io
import json
import os
import re
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid

import grpc
from google.rpc import error_details_pb2, status_pb2

DOMAIN = "tica"
SUMMARY_KEYS = (
    "what", "code", "reason", "domain", "localized", "details", "http_status", "error"
)
STATUS_DETAILS = "grpc-status-details-bin"


class Failed(Exception):
    """An assertion about TICA's answers did not hold."""


def check(condition, message):
    if not condition:
        raise Failed(message)


# ---- stubs generated from the protos ----


def generate_stubs(proto_root, out):
    """Runs protoc (grpc_tools) over every tica/**/*.proto into `out` and makes it importable."""
    import grpc_tools
    from grpc_tools import protoc

    builtin = os.path.join(os.path.dirname(grpc_tools.__file__), "_proto")
    files = []
    for directory, _, names in os.walk(os.path.join(proto_root, "tica")):
        files += [
            os.path.relpath(os.path.join(directory, n), proto_root)
            for n in sorted(names)
            if n.endswith(".proto")
        ]
    command = [
        "grpc_tools.protoc",
        f"-I{proto_root}",
        f"-I{builtin}",
        f"--python_out={out}",
        f"--grpc_python_out={out}",
        *files,
    ]
    if protoc.main(command) != 0:
        raise SystemExit(f"agency.py: protoc failed on {proto_root}")
    sys.path.insert(0, out)
    modules = {}
    for name in ["common", "roster", "assessment", "certificate"]:
        package = f"tica.{name}.v1"
        modules[name] = importlib.import_module(f"{package}.{name}_pb2")
        if name != "common":
            modules[name + "_grpc"] = importlib.import_module(f"{package}.{name}_pb2_grpc")
    modules["errors"] = importlib.import_module("tica.common.v1.errors_pb2")
    modules["timestamp"] = importlib.import_module("google.protobuf.timestamp_pb2")
    return modules


def reason_table(errors_proto):
    """ErrorReason name (without the prefix) -> the gRPC code name errors.proto gives it in
    brackets ("*" for "[the code sent]")."""
    table, code = {}, None
    with open(errors_proto, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            bracket = re.match(r"//\s*\[([A-Za-z_ ]+)\]", line)
            if bracket:
                text = bracket.group(1)
                code = text if re.fullmatch(r"[A-Z_]+", text) else "*"
                continue
            value = re.match(r"ERROR_REASON_([A-Z_]+)\s*=\s*\d+;", line)
            if value:
                if value.group(1) != "UNSPECIFIED":
                    table[value.group(1)] = code
                code = None
    return table


# ---- tokens ----


def tls_context(ca, cert=None, key=None):
    context = ssl.create_default_context(cafile=ca)
    if cert and key:
        context.load_cert_chain(cert, key)
    return context


def client_credentials(token_url, client, context, scope=None, in_body=False):
    """An access token by the client-credentials grant (RFC 6749 §4.4): the client id and secret
    form-urlencoded, then as HTTP Basic (§2.3.1), or as body parameters when `in_body`. Returns
    (status, JSON answer)."""
    client_id, _, secret = client.partition(":")
    form = {"grant_type": "client_credentials"}
    if scope:
        form["scope"] = scope
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "Accept": "application/json",
    }
    if in_body:
        form["client_id"], form["client_secret"] = client_id, secret
    else:
        pair = f"{urllib.parse.quote_plus(client_id)}:{urllib.parse.quote_plus(secret)}"
        headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode()
    request = urllib.request.Request(
        token_url,
        data=urllib.parse.urlencode(form).encode(),
        headers=headers,
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, context=context, timeout=30) as answer:
            return answer.status, json.loads(answer.read().decode("utf-8"))
    except urllib.error.HTTPError as error:
        body = error.read().decode("utf-8", "replace")
        try:
            return error.code, json.loads(body)
        except ValueError:
            return error.code, {"error": None, "body": body}


def fetch_token(token_url, client, context, scope=None):
    status, answer = client_credentials(token_url, client, context, scope)
    check(
        status == 200 and answer.get("access_token"),
        f"the token endpoint refused client {client.partition(':')[0]}: {status} {answer}",
    )
    check(
        str(answer.get("token_type", "")).lower() == "bearer",
        f"token_type is {answer.get('token_type')!r}, not Bearer",
    )
    check(
        isinstance(answer.get("expires_in"), int) and answer["expires_in"] > 0,
        f"expires_in is {answer.get('expires_in')!r}",
    )
    return answer["access_token"]


def token_subject(token):
    """The `sub` claim of a JWT access token (read, not verified: the server verifies it), which
    names a training provider's records (`providers/{sub}`); None when it is not a JWT."""
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        return claims.get("sub") or None
    except (IndexError, ValueError, AttributeError):
        return None


# ---- calls and refusals ----


class Refusals:
    """Every refusal provoked on purpose, decoded and checked against the reason table."""

    def __init__(self, table):
        self.table = table
        self.seen = []

    def expect(self, what, call, reason, code, language=None, details=()):
        """Makes `call` (which must fail), decodes its status details and asserts the reason,
        its code (also against errors.proto's table), the domain, a LocalizedMessage (in
        `language` when one was asked) and the named `details` types."""
        try:
            answer = call()
        except grpc.RpcError as error:
            decoded = decode(error)
        else:
            raise Failed(f"{what}: expected {code}/{reason}, got an answer: {answer!r:.300}")
        got_code = decoded["code"]
        check(got_code == code, f"{what}: code {got_code}, expected {code}: {decoded}")
        check(decoded["status_code"] == got_code, f"{what}: the Status's code disagrees: {decoded}")
        check(decoded["domain"] == DOMAIN, f"{what}: ErrorInfo domain {decoded['domain']!r}")
        check(decoded["reason"] == reason, f"{what}: reason {decoded['reason']}, expected {reason}")
        table_code = self.table.get(reason)
        check(table_code is not None, f"{what}: {reason} is not in errors.proto")
        check(
            table_code in ("*", got_code),
            f"{what}: errors.proto says {reason} travels with {table_code}, not {got_code}",
        )
        check(decoded["localized"], f"{what}: no LocalizedMessage: {decoded}")
        locale = decoded["localized"]["locale"]
        check(
            locale == (language or "zh-CN"),
            f"{what}: LocalizedMessage in {locale}, asked {language or 'nothing (zh-CN)'}",
        )
        for kind in details:
            check(kind in decoded["details"], f"{what}: no {kind} detail: {decoded['details']}")
        decoded["what"] = what
        self.seen.append(decoded)
        return decoded

    def oauth(self, what, status, answer, expected_status, error):
        """A refusal of the token endpoint (RFC 6749 §5.2): its status and `error` code."""
        check(
            status == expected_status and answer.get("error") == error,
            f"{what}: expected {expected_status} {error}, got {status} {answer}",
        )
        self.seen.append({"what": what, "http_status": status, "error": error, "domain": "oauth"})


def decode(error):
    """The refusal as TICA sends it: the gRPC code, and `grpc-status-details-bin` decoded as a
    google.rpc.Status with its details unpacked."""
    trailers = dict(error.trailing_metadata() or ())
    raw = trailers.get(STATUS_DETAILS)
    if raw is None:
        raise Failed(f"a refusal without {STATUS_DETAILS}: {error.code()} {error.details()}")
    status = status_pb2.Status.FromString(raw)
    decoded = {
        "code": error.code().name,
        "status_code": grpc.StatusCode(
            next(c for c in grpc.StatusCode if c.value[0] == status.code)
        ).name,
        "domain": None,
        "reason": None,
        "metadata": {},
        "localized": None,
        "details": {},
    }
    kinds = {
        "google.rpc.ErrorInfo": error_details_pb2.ErrorInfo,
        "google.rpc.LocalizedMessage": error_details_pb2.LocalizedMessage,
        "google.rpc.BadRequest": error_details_pb2.BadRequest,
        "google.rpc.PreconditionFailure": error_details_pb2.PreconditionFailure,
        "google.rpc.ResourceInfo": error_details_pb2.ResourceInfo,
        "google.rpc.RetryInfo": error_details_pb2.RetryInfo,
        "google.rpc.QuotaFailure": error_details_pb2.QuotaFailure,
        "google.rpc.DebugInfo": error_details_pb2.DebugInfo,
        "google.rpc.Help": error_details_pb2.Help,
        "google.rpc.RequestInfo": error_details_pb2.RequestInfo,
    }
    for any_detail in status.details:
        kind = any_detail.TypeName()
        message_type = kinds.get(kind)
        check(message_type is not None, f"an unknown detail type {any_detail.type_url}")
        detail = message_type()
        check(any_detail.Unpack(detail), f"{kind} does not unpack")
        if kind == "google.rpc.ErrorInfo":
            decoded["domain"], decoded["reason"] = detail.domain, detail.reason
            decoded["metadata"] = dict(detail.metadata)
        elif kind == "google.rpc.LocalizedMessage":
            decoded["localized"] = {"locale": detail.locale, "message": detail.message}
        elif kind == "google.rpc.BadRequest":
            decoded["details"][kind] = [v.field for v in detail.field_violations]
            continue
        elif kind == "google.rpc.PreconditionFailure":
            decoded["details"][kind] = [v.type for v in detail.violations]
            continue
        elif kind == "google.rpc.ResourceInfo":
            decoded["details"][kind] = detail.resource_name
            continue
        elif kind == "google.rpc.RetryInfo":
            decoded["details"][kind] = detail.retry_delay.ToTimedelta().total_seconds()
            continue
        decoded["details"][kind] = True
    check(decoded["reason"], f"no ErrorInfo in the details of {error.code()} {error.details()}")
    return decoded


def bearer(token, language=None):
    metadata = []
    if token:
        metadata.append(("authorization", f"Bearer {token}"))
    if language:
        metadata.append(("accept-language", language))
    return metadata


# ---- the five tasks ----


class Agency:
    def __init__(self, args, pb, channel, refusals):
        self.args = args
        self.pb = pb
        self.refusals = refusals
        self.roster = pb["roster_grpc"].RosterServiceStub(channel)
        self.assessment = pb["assessment_grpc"].AssessmentServiceStub(channel)
        self.certificate = pb["certificate_grpc"].CertificateServiceStub(channel)
        self.county = f"jurisdictions/{args.county}"
        self.summary = {}

    # 3. a county's teachers, page by page, and its progress exported
    def teachers_and_progress(self, office):
        rpb, apb = self.pb["roster"], self.pb["assessment"]
        teachers, pages, token, total = [], 0, "", None
        while True:
            answer = self.roster.ListTeachers(
                rpb.ListTeachersRequest(parent=self.county, page_size=100, page_token=token),
                metadata=bearer(office),
                timeout=60,
            )
            pages += 1
            teachers += [t.name for t in answer.teachers]
            total = answer.total_size if total is None else total
            check(answer.total_size == total, "total_size changed between pages")
            token = answer.next_page_token
            if not token:
                break
            check(pages < 1000, "ListTeachers never ends")
        check(len(teachers) == total, f"{len(teachers)} teachers paged, total_size says {total}")
        check(len(set(teachers)) == len(teachers), "a teacher came twice while paging")
        if self.args.expect_teachers is not None:
            check(
                total == self.args.expect_teachers,
                f"{total} teachers in {self.county}, expected {self.args.expect_teachers}",
            )
        check(pages > 1, "the county fits in one page: paging is not exercised")
        self.refusals.expect(
            "ListTeachers with a page token it never gave",
            lambda: self.roster.ListTeachers(
                rpb.ListTeachersRequest(parent=self.county, page_token="not-a-page-token"),
                metadata=bearer(office, "en"),
                timeout=30,
            ),
            "INVALID_FIELDS",
            "INVALID_ARGUMENT",
            language="en",
            details=["google.rpc.BadRequest"],
        )
        self.refusals.expect(
            "ListTeachers without a token",
            lambda: self.roster.ListTeachers(
                rpb.ListTeachersRequest(parent=self.county), timeout=30
            ),
            "TOKEN_MISSING",
            "UNAUTHENTICATED",
        )
        self.refusals.expect(
            "ListTeachers with a token TICA never signed",
            lambda: self.roster.ListTeachers(
                rpb.ListTeachersRequest(parent=self.county),
                metadata=bearer("eyJhbGciOiJFZERTQSJ9.e30.c2lnbmF0dXJl", "en"),
                timeout=30,
            ),
            "TOKEN_INVALID",
            "UNAUTHENTICATED",
            language="en",
        )

        chunks, metadata = [], None
        for message in self.assessment.ExportProgress(
            apb.ExportProgressRequest(
                parent=self.county,
                level=apb.PROGRESS_LEVEL_SCHOOL,
                year=self.args.year,
                format=self.pb["common"].FILE_FORMAT_CSV,
            ),
            metadata=bearer(office),
            timeout=120,
        ):
            if message.WhichOneof("payload") == "metadata":
                check(metadata is None and not chunks, "ExportProgress: metadata not first")
                metadata = message.metadata
            else:
                check(metadata is not None, "ExportProgress: a chunk before the metadata")
                chunks.append(message.chunk)
        check(metadata is not None, "ExportProgress sent nothing")
        text = b"".join(chunks).decode("utf-8-sig")
        rows = list(csv.reader(io.StringIO(text)))
        check(len(rows) >= 2, f"the progress CSV has {len(rows)} rows")
        data_rows = len(rows) - 1
        check(
            data_rows >= metadata.row_count > 0,
            f"the CSV has {data_rows} data rows, the metadata says {metadata.row_count}",
        )
        self.summary["teachers"] = {
            "county": self.county,
            "listed": len(teachers),
            "total_size": total,
            "pages": pages,
        }
        self.summary["progress_export"] = {
            "file_name": metadata.file_name,
            "content_type": metadata.content_type,
            "row_count": metadata.row_count,
            "bytes": len(text.encode("utf-8")),
        }
        return teachers

    # 1. hours for 300 teachers, pushed twice
    def hours(self, provider, provider_id, teachers, office):
        apb = self.pb["assessment"]
        check(len(teachers) >= 300, f"only {len(teachers)} teachers to push hours for")
        parent = f"providers/{provider_id}"
        run = uuid.uuid4().hex[:8]
        # When the teachers completed the course: part of a record's content, sent again as it
        # was on a re-push. (A record without it is stamped with the time the server received
        # it, so the same record re-pushed without it differs and is rejected.)
        completed = self.pb["timestamp"].Timestamp(seconds=int(time.time()) - 86400)

        def record(number, centihours=1200):
            # teachers/{number} -> the provider's record id for that teacher.
            teacher_number = number.split("/", 1)[1]
            return apb.HoursRecord(
                name=f"{parent}/hoursRecords/interop-{run}-{teacher_number}",
                teacher=number,
                kind=apb.HOURS_KIND_ONLINE_STUDY,
                course_id="interop-2022-online",
                course_title="信息技术应用能力提升工程2.0 线上课程",
                centihours=centihours,
                revision=1,
                complete_time=completed,
            )

        records = [record(t) for t in teachers[:300]]

        def push(batch, token=provider, parent=parent, language=None):
            return self.assessment.BatchPushHoursRecords(
                apb.BatchPushHoursRecordsRequest(parent=parent, records=batch),
                metadata=bearer(token, language),
                timeout=120,
            )

        first = push(records)
        outcomes = [r.outcome for r in first.results]
        check(len(outcomes) == 300, f"{len(outcomes)} results for 300 records")
        errors = [r.error for r in first.results if r.outcome != apb.PUSH_OUTCOME_CREATED]
        check(not errors, f"the first push did not create every record: {errors[:3]}")
        check(
            [r.name for r in first.results] == [r.name for r in records],
            "the results are not in the order pushed",
        )
        again = push(records)
        unchanged = [r for r in again.results if r.outcome == apb.PUSH_OUTCOME_UNCHANGED]
        check(
            len(unchanged) == 300,
            "the re-push changed something: "
            + str([(apb.PushOutcome.Name(r.outcome), r.error) for r in again.results][:3]),
        )
        for before, after in zip(first.results, again.results):
            check(
                before.record.update_time == after.record.update_time
                and before.record.centihours == after.record.centihours,
                f"the re-push of {before.name} changed the stored record",
            )
        # The same revision with other content is refused for that record only.
        reused = push([record(teachers[0], centihours=99)])
        check(
            reused.results[0].outcome == apb.PUSH_OUTCOME_REJECTED and reused.results[0].error,
            f"the same revision with other content was not rejected: {reused.results[0]}",
        )
        listed = self.assessment.ListHoursRecords(
            apb.ListHoursRecordsRequest(parent=parent, page_size=1),
            metadata=bearer(provider),
            timeout=60,
        )
        check(
            listed.total_size == 300,
            f"the provider has {listed.total_size} records after two pushes of 300",
        )
        self.refusals.expect(
            "BatchPushHoursRecords of 1001 records",
            lambda: push([record(teachers[0])] * 1001, language="en"),
            "INVALID_FIELDS",
            "INVALID_ARGUMENT",
            language="en",
            details=["google.rpc.BadRequest"],
        )
        self.refusals.expect(
            "BatchPushHoursRecords under another provider",
            lambda: push(
                [
                    apb.HoursRecord(
                        name="providers/someone-else/hoursRecords/interop-1",
                        teacher=teachers[0],
                        kind=apb.HOURS_KIND_ONLINE_STUDY,
                        centihours=100,
                        revision=1,
                        complete_time=completed,
                    )
                ],
                parent="providers/someone-else",
            ),
            "OUTSIDE_SCOPE",
            "PERMISSION_DENIED",
        )
        self.refusals.expect(
            "BatchPushHoursRecords with an office's token",
            lambda: push(records[:1], token=office),
            "ROLE_NOT_ALLOWED",
            "PERMISSION_DENIED",
        )
        self.summary["hours"] = {
            "provider": parent,
            "teachers": len(records),
            "created": len(records),
            "repushed_unchanged": len(unchanged),
            "same_revision_other_content": "REJECTED",
            "stored": listed.total_size,
        }

    # 2. 1,000 certificates verified by id and by QR text
    def certificates(self, office):
        cpb = self.pb["certificate"]
        listed, token = [], ""
        while True:
            answer = self.certificate.ListCertificates(
                cpb.ListCertificatesRequest(parent=self.county, page_size=1000, page_token=token),
                metadata=bearer(office),
                timeout=120,
            )
            listed += answer.certificates
            token = answer.next_page_token
            if not token:
                break
        check(len(listed) >= 1000, f"only {len(listed)} certificates in {self.county}")
        return listed

    def verify(self, listed):
        cpb = self.pb["certificate"]
        sample = listed[:1000]
        expected = {
            c.name: (
                cpb.VERDICT_REVOKED
                if c.status == cpb.CERTIFICATE_STATUS_REVOKED
                else cpb.VERDICT_VALID
            )
            for c in sample
        }
        counts = {}
        for how, make in [
            ("id", lambda c: cpb.VerifyRequest(certificate=c.name.split("/", 1)[1])),
            ("qr_text", lambda c: cpb.VerifyRequest(qr_text=c.qr_text)),
        ]:
            answer = self.certificate.BatchVerify(
                cpb.BatchVerifyRequest(requests=[make(c) for c in sample]), timeout=300
            )
            check(len(answer.responses) == 1000, f"{len(answer.responses)} answers for 1000")
            tally = {}
            for certificate, response in zip(sample, answer.responses):
                check(
                    response.certificate == certificate.name,
                    f"by {how}: answered {response.certificate} for {certificate.name}",
                )
                check(
                    response.verdict == expected[certificate.name],
                    f"by {how}: {certificate.name} is {cpb.Verdict.Name(response.verdict)}",
                )
                check(
                    response.facts.number == certificate.number,
                    f"by {how}: the facts' number {response.facts.number} is not "
                    f"{certificate.number}",
                )
                verdict = cpb.Verdict.Name(response.verdict)
                tally[verdict] = tally.get(verdict, 0) + 1
            counts[how] = tally
        unknown = self.certificate.Verify(
            cpb.VerifyRequest(certificate="0" * 26), timeout=30
        )
        check(
            unknown.verdict == cpb.VERDICT_NOT_GENUINE
            and unknown.failure == cpb.VERIFY_FAILURE_UNKNOWN_ID,
            f"an unknown id: {cpb.Verdict.Name(unknown.verdict)} "
            f"{cpb.VerifyFailure.Name(unknown.failure)}",
        )
        self.refusals.expect(
            "BatchVerify of 1001 certificates",
            lambda: self.certificate.BatchVerify(
                cpb.BatchVerifyRequest(
                    requests=[cpb.VerifyRequest(certificate=sample[0].name)] * 1001
                ),
                metadata=bearer(None, "en"),
                timeout=60,
            ),
            "INVALID_FIELDS",
            "INVALID_ARGUMENT",
            language="en",
            details=["google.rpc.BadRequest"],
        )
        # Three PDFs of almost 1 MiB: each within its own limit, the request over 2 MiB.
        self.refusals.expect(
            "BatchVerify of three PDFs (over 2 MiB)",
            lambda: self.certificate.BatchVerify(
                cpb.BatchVerifyRequest(
                    requests=[cpb.VerifyRequest(pdf=b"%PDF-1.7\n" + b" " * 1_000_000)] * 3
                ),
                timeout=60,
            ),
            "REQUEST_TOO_LARGE",
            "OUT_OF_RANGE",
        )
        self.summary["verified"] = {
            "by_id": counts["id"],
            "by_qr_text": counts["qr_text"],
            "unknown_id": "NOT_GENUINE/UNKNOWN_ID",
        }

    # 4. an issuance run followed to its end
    def issuance(self, office, batch):
        cpb = self.pb["certificate"]

        def revoked():
            answer = self.certificate.ListCertificates(
                cpb.ListCertificatesRequest(
                    parent=self.county, page_size=1, status=cpb.CERTIFICATE_STATUS_REVOKED
                ),
                metadata=bearer(office),
                timeout=60,
            )
            return answer.total_size

        revoked_before = revoked()
        request_id = str(uuid.uuid4())
        run = self.certificate.StartIssuanceRun(
            cpb.StartIssuanceRunRequest(batch=batch, request_id=request_id),
            metadata=bearer(office),
            timeout=60,
        )
        retried = self.certificate.StartIssuanceRun(
            cpb.StartIssuanceRunRequest(batch=batch, request_id=request_id),
            metadata=bearer(office),
            timeout=60,
        )
        check(retried.name == run.name, f"a retry started {retried.name}, not {run.name}")
        states, last = [], None
        for update in self.certificate.WatchIssuanceRun(
            cpb.WatchIssuanceRunRequest(name=run.name), metadata=bearer(office), timeout=600
        ):
            states.append(cpb.IssuanceRunState.Name(update.state))
            last = update
        check(last is not None, "WatchIssuanceRun sent nothing")
        check(
            last.state == cpb.ISSUANCE_RUN_STATE_SUCCEEDED,
            f"the run ended {cpb.IssuanceRunState.Name(last.state)}: {last.error}",
        )
        got = self.certificate.GetIssuanceRun(
            cpb.GetIssuanceRunRequest(name=run.name), metadata=bearer(office), timeout=60
        )
        check(got.state == last.state and got.end_time == last.end_time, "GetIssuanceRun disagrees")
        if self.args.expect_run_revoked is not None:
            check(
                last.certificates_revoked == self.args.expect_run_revoked,
                f"the run revoked {last.certificates_revoked}, "
                f"expected {self.args.expect_run_revoked}",
            )
        check(
            revoked() - revoked_before == last.certificates_revoked,
            "the revoked certificates listed do not grow by what the run revoked",
        )
        self.refusals.expect(
            "CancelIssuanceRun of an ended run",
            lambda: self.certificate.CancelIssuanceRun(
                cpb.CancelIssuanceRunRequest(name=run.name), metadata=bearer(office), timeout=30
            ),
            "RUN_ENDED",
            "FAILED_PRECONDITION",
        )
        self.summary["issuance"] = {
            "run": run.name,
            "states": states,
            "end": cpb.IssuanceRunState.Name(last.state),
            "certificates_issued": last.certificates_issued,
            "certificates_revoked": last.certificates_revoked,
            "events_processed": last.events_processed,
        }

    # 5. a certificate revoked with a reason
    def revoke(self, office, provider, listed):
        cpb = self.pb["certificate"]
        active = [c for c in listed if c.status == cpb.CERTIFICATE_STATUS_ACTIVE]
        current = self.certificate.GetCertificate(
            cpb.GetCertificateRequest(name=active[-1].name), metadata=bearer(office), timeout=30
        )
        check(current.status == cpb.CERTIFICATE_STATUS_ACTIVE, f"{current.name} is not ACTIVE")
        explanation = "证书信息录入错误，予以撤销 (interop)"
        request = cpb.RevokeCertificateRequest(
            name=current.name,
            reason=cpb.REVOCATION_REASON_ISSUED_IN_ERROR,
            explanation=explanation,
            request_id=str(uuid.uuid4()),
        )
        self.refusals.expect(
            "RevokeCertificate with a provider's token",
            lambda: self.certificate.RevokeCertificate(
                request, metadata=bearer(provider), timeout=30
            ),
            "ROLE_NOT_ALLOWED",
            "PERMISSION_DENIED",
        )
        revoked = self.certificate.RevokeCertificate(request, metadata=bearer(office), timeout=60)
        check(revoked.status == cpb.CERTIFICATE_STATUS_REVOKED, "RevokeCertificate: not REVOKED")
        retried = self.certificate.RevokeCertificate(request, metadata=bearer(office), timeout=60)
        check(
            retried.revocation.log_index == revoked.revocation.log_index,
            "a retry with the same request_id revoked again",
        )
        self.refusals.expect(
            "RevokeCertificate of a revoked certificate",
            lambda: self.certificate.RevokeCertificate(
                cpb.RevokeCertificateRequest(
                    name=current.name,
                    reason=cpb.REVOCATION_REASON_OTHER,
                    explanation="again",
                ),
                metadata=bearer(office, "en"),
                timeout=30,
            ),
            "CERTIFICATE_ALREADY_REVOKED",
            "FAILED_PRECONDITION",
            language="en",
            details=["google.rpc.PreconditionFailure"],
        )
        for how, subject in [
            ("id", cpb.VerifyRequest(certificate=current.name)),
            ("qr_text", cpb.VerifyRequest(qr_text=current.qr_text)),
        ]:
            answer = self.certificate.Verify(subject, timeout=30)
            check(
                answer.verdict == cpb.VERDICT_REVOKED,
                f"verified by {how} after revocation: {cpb.Verdict.Name(answer.verdict)}",
            )
            check(
                answer.revocation.reason == cpb.REVOCATION_REASON_ISSUED_IN_ERROR
                and answer.revocation.explanation == explanation,
                f"verified by {how}: the revocation says {answer.revocation}",
            )
        self.summary["revoked"] = {
            "certificate": current.number,
            "reason": "ISSUED_IN_ERROR",
            "verify_says": "REVOKED",
        }

    # the public per-client budget, spent on purpose last
    def rate_limit(self, listed):
        cpb = self.pb["certificate"]
        requests = [cpb.VerifyRequest(certificate=c.name) for c in listed[:1000]]

        def spend():
            for _ in range(20):
                self.certificate.BatchVerify(
                    cpb.BatchVerifyRequest(requests=requests), timeout=300
                )
            return "never limited"

        decoded = self.refusals.expect(
            "BatchVerify beyond the per-client budget",
            spend,
            "RATE_LIMITED",
            "RESOURCE_EXHAUSTED",
            details=["google.rpc.RetryInfo"],
        )
        retry = decoded["details"]["google.rpc.RetryInfo"]
        self.summary["rate_limited_retry_after_seconds"] = retry


def jwks(http, context):
    """The issuer's published keys, over the public front's TLS."""
    with urllib.request.urlopen(f"{http}/.well-known/jwks.json", context=context, timeout=30) as r:
        keys = json.loads(r.read().decode("utf-8"))
    check(keys.get("keys"), "the key set has no keys")
    return len(keys["keys"])


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--grpc", required=True, help="host:port of the gRPC port (TLS)")
    parser.add_argument("--http", required=True, help="https://host:port of the public pages")
    parser.add_argument("--ca", required=True, help="PEM CA that signs the server certificates")
    parser.add_argument("--client-cert", help="PEM client certificate (mutual TLS)")
    parser.add_argument("--client-key", help="its PEM private key")
    parser.add_argument("--server-name", help="the name to check the server certificate for")
    parser.add_argument("--token-url", help="OAuth 2.0 token endpoint; default {http}/oauth/token")
    parser.add_argument("--provider-client", help="training provider's CLIENT_ID:SECRET")
    parser.add_argument("--office-client", help="county office's CLIENT_ID:SECRET")
    parser.add_argument("--provider-token", help="a bearer token instead of --provider-client")
    parser.add_argument("--office-token", help="a ready bearer token instead of --office-client")
    parser.add_argument(
        "--provider-id",
        help="the provider's id (providers/{id}); default: its token's `sub`, else its client id",
    )
    parser.add_argument("--county", required=True, help="the county's division code")
    parser.add_argument("--batch", required=True, help="batches/{id}: the county's certified batch")
    parser.add_argument("--year", type=int, required=True, help="the batch's year")
    parser.add_argument("--expect-teachers", type=int, help="teachers the county must have")
    parser.add_argument("--expect-run-revoked", type=int, help="certificates the run must revoke")
    parser.add_argument("--proto", default=os.path.join(here, "..", "..", "proto"))
    args = parser.parse_args()
    for role in ["provider", "office"]:
        if not (getattr(args, f"{role}_client") or getattr(args, f"{role}_token")):
            parser.error(f"--{role}-client or --{role}-token is needed")
    if bool(args.client_cert) != bool(args.client_key):
        parser.error("--client-cert and --client-key go together")

    summary = {"ok": False}
    started = time.monotonic()
    try:
        with tempfile.TemporaryDirectory(prefix="tica-agency-") as out:
            pb = generate_stubs(os.path.abspath(args.proto), out)
            table = reason_table(os.path.join(args.proto, "tica/common/v1/errors.proto"))
            check(len(table) >= 20, f"only {len(table)} reasons read from errors.proto")
            refusals = Refusals(table)
            http_tls = tls_context(args.ca, args.client_cert, args.client_key)
            summary["jwks_keys"] = jwks(args.http.rstrip("/"), http_tls)

            token_url = args.token_url or f"{args.http.rstrip('/')}/oauth/token"
            tokens = {}
            for role in ["provider", "office"]:
                client = getattr(args, f"{role}_client")
                if client:
                    tokens[role] = fetch_token(token_url, client, http_tls)
                    wrong = client.partition(":")[0] + ":not-the-secret"
                    status, answer = client_credentials(token_url, wrong, http_tls)
                    refusals.oauth(
                        f"a token for {role} with a wrong secret",
                        status,
                        answer,
                        401,
                        "invalid_client",
                    )
                    status, answer = client_credentials(token_url, client, http_tls, in_body=True)
                    check(status == 200, f"client_secret in the body: {status} {answer}")
                else:
                    tokens[role] = getattr(args, f"{role}_token")
            provider_id = (
                args.provider_id
                or token_subject(tokens["provider"])
                or (args.provider_client or "").partition(":")[0]
            )
            check(provider_id, "the provider's id: give --provider-id")
            summary["tokens"] = {
                role: "client_credentials" if getattr(args, f"{role}_client") else "given"
                for role in ["provider", "office"]
            }

            ca = open(args.ca, "rb").read()
            identity = {}
            if args.client_cert:
                identity = {
                    "private_key": open(args.client_key, "rb").read(),
                    "certificate_chain": open(args.client_cert, "rb").read(),
                }
            credentials = grpc.ssl_channel_credentials(root_certificates=ca, **identity)
            options = [("grpc.max_receive_message_length", 64 << 20)]
            if args.server_name:
                options.append(("grpc.ssl_target_name_override", args.server_name))
            with grpc.secure_channel(args.grpc, credentials, options=options) as channel:
                grpc.channel_ready_future(channel).result(timeout=30)
                agency = Agency(args, pb, channel, refusals)
                office, provider = tokens["office"], tokens["provider"]
                teachers = agency.teachers_and_progress(office)
                agency.hours(provider, provider_id, teachers, office)
                listed = agency.certificates(office)
                agency.verify(listed)
                agency.issuance(office, args.batch)
                agency.revoke(office, provider, listed)
                agency.rate_limit(listed)
            summary.update(agency.summary)
            summary["tls"] = {"mutual": bool(args.client_cert)}
            summary["refusals"] = [
                {k: r[k] for k in SUMMARY_KEYS if r.get(k) is not None}
                for r in refusals.seen
            ]
            summary["refusal_reasons"] = sorted(
                {r.get("reason") or r.get("error") for r in refusals.seen}
            )
            summary["tasks"] = ["hours", "verify", "teachers_and_progress", "issuance", "revoke"]
            summary["seconds"] = round(time.monotonic() - started, 1)
            summary["ok"] = True
    except Failed as failure:
        summary["error"] = str(failure)
        print(f"agency.py: {failure}", file=sys.stderr)
        print(json.dumps(summary, ensure_ascii=False))
        return 1
    except grpc.RpcError as error:
        summary["error"] = f"an unexpected refusal: {error.code().name} {error.details()}"
        try:
            summary["decoded"] = decode(error)
        except Failed:
            pass
        print(f"agency.py: {summary['error']}", file=sys.stderr)
        print(json.dumps(summary, ensure_ascii=False))
        return 1
    print(json.dumps(summary, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
