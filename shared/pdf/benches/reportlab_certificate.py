#!/usr/bin/env python3
"""The reference for benches/render.rs: the same certificate drawn with reportlab.

Same A4 layout as src/layout.rs (double border, title, wrapped body, issuer and date,
number and key, the QR at level Q in 3/100-inch modules as one rectangle per run of dark
modules, its caption and the verification address and code under it), the same text and
the same shipped font (subset-embedded by reportlab). Prints `RATE <per CPU s>`.

    python3 reportlab_certificate.py --n 200 --font ../assets/wqy-microhei-face0.ttf \
        --page '{"title": ...}' --out /tmp/ref.pdf

Exits with status 2 and a message when reportlab or qrcode is not installed.
"""
import argparse
import io
import json
import sys
import time

try:
    import qrcode
    from qrcode.constants import ERROR_CORRECT_Q
    from reportlab.lib.units import mm
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont
    from reportlab.pdfgen import canvas
except ImportError as e:  # pragma: no cover
    print(f"not installed: {e.name} (pip install reportlab qrcode)")
    sys.exit(2)

W, H = 595.276, 841.89
CRIMSON = (0.63, 0.09, 0.11)
INK = (0.11, 0.11, 0.12)
GREY = (0.42, 0.42, 0.44)
FONT = "WQY"
CLOSING = "，。、；：！？）」』”’》】…"
OPENING = "（「『“‘《【"


def keeps_together(c):
    return (c.isascii() and c.isalnum()) or c in "*-./#_"


def tokens(pieces):
    out, pending = [], None
    for style, text in pieces:
        if text and text[0] in OPENING and len(text) <= 6:
            out.append([style, text])
            continue
        for c in text:
            glue = c in CLOSING or (
                c.isascii() and c.isdigit() and pending is None and out and not out[-1][1][-1].isspace()
            ) or (
                keeps_together(c) and out and keeps_together(out[-1][1][-1]) and pending is None
            )
            if glue and out:
                out[-1][1] += c
                continue
            tok = (pending[1] if pending else "") + c
            pending = None
            if c in OPENING:
                pending = [style, tok]
            else:
                out.append([style, tok])
    if pending:
        out.append(pending)
    return out


def width(text, size, spacing=0.0):
    return pdfmetrics.stringWidth(text, FONT, size) + spacing * size * max(len(text) - 1, 0)


def text(c, s, x, y, size, color, spacing=0.0):
    c.setFillColorRGB(*color)
    t = c.beginText(x, y)
    t.setFont(FONT, size)
    t.setCharSpace(spacing * size)
    t.textOut(s)
    c.drawText(t)


def centred(c, s, cx, y, size, color, spacing=0.0):
    text(c, s, cx - width(s, size, spacing) / 2, y, size, color, spacing)


def fitting(s, mx, w, spacing=0.0):
    return min(mx, w / max(width(s, 1.0, spacing), 1e-6))


def diamond(c, cx, cy, r):
    c.saveState()
    c.transform(1, 1, -1, 1, cx, cy)
    c.rect(-r / 2, -r / 2, r, r, stroke=0, fill=1)
    c.restoreState()


def paragraph(c, pieces, x, top, w, size, leading, indent):
    lines, used = [[]], indent * size
    for style, tok in tokens(pieces):
        tw = width(tok, size)
        if used + tw > w + 0.01 and lines[-1] and tok.strip():
            lines.append([])
            used = 0.0
        if not lines[-1] and tok == " ":
            continue
        used += tw
        if lines[-1] and lines[-1][-1][0] == style:
            lines[-1][-1][1] += tok
        else:
            lines[-1].append([style, tok])
    y = top
    c.setFillColorRGB(*INK)
    c.setStrokeColorRGB(*INK)
    c.setLineWidth(0.35)
    for i, line in enumerate(lines):
        t = c.beginText(x + (indent * size if i == 0 else 0), y)
        t.setFont(FONT, size)
        t.setCharSpace(0)
        for style, s in line:
            t.setTextRenderMode(2 if style == "strong" else 0)
            t.textOut(s)
        t.setTextRenderMode(0)
        c.drawText(t)
        if i + 1 < len(lines):
            y -= leading
    return y


def body(p):
    school = p["school"] if not p["county"] or p["school"].startswith(p["county"]) else p["county"] + p["school"]
    extra = f"（{p['credits_or_hours'].strip()}）" if p["credits_or_hours"].strip() else ""
    a = p["achievement"].strip()
    micro = len(a) > 1 and a[0].isupper() and a[1].isdigit()
    if micro:
        return [
            ("plain", f"您作为{school}教师，参加信息技术应用能力提升工程2.0 微能力认证，所提交的"),
            ("strong", f"“{a}”"),
            ("plain", "能力点成果经考核，认定为"),
            ("strong", f"“{p['grade']}”"),
            ("plain", f"{extra}，特发此证。"),
        ]
    subject = a[: -len(p["grade"])].rstrip() if a.endswith(p["grade"]) and a != p["grade"] else a
    return [
        ("plain", f"您作为{school}教师，参加信息技术应用能力提升工程2.0 培训与测评，经考核，"),
        ("strong", subject),
        ("plain", "等级认定为"),
        ("strong", f"“{p['grade']}”"),
        ("plain", f"{extra}，特发此证。"),
    ]


def certificate(p):
    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=(W, H), invariant=1)
    c.setTitle(f"{p['title']} {p['number']}")
    c.setSubject("TICA-QR:" + p["qr_text"])
    # Border.
    c.setStrokeColorRGB(*CRIMSON)
    c.setFillColorRGB(*CRIMSON)
    for inset, lw in ((10 * mm, 2.4), (13 * mm, 0.6)):
        c.setLineWidth(lw)
        c.rect(inset, inset, W - 2 * inset, H - 2 * inset, stroke=1, fill=0)
    mid, s = 11.5 * mm, 2.2 * mm
    for x, y in ((mid, mid), (W - mid, mid), (mid, H - mid), (W - mid, H - mid)):
        c.rect(x - s / 2, y - s / 2, s, s, stroke=0, fill=1)
    d = 17 * mm
    for x, y in ((d, d), (W - d, d), (d, H - d), (W - d, H - d)):
        diamond(c, x, y, 2.4 * mm)
    # Title.
    cx, usable = W / 2, W - 60 * mm
    title = p["title"].strip()
    upper, main = title.rsplit(" ", 1) if " " in title else (None, title)
    if upper:
        centred(c, upper, cx, H - 52 * mm, fitting(upper, 17, usable, 0.12), INK, 0.12)
    centred(c, main, cx, H - 74 * mm, fitting(main, 40, usable, 0.3), CRIMSON, 0.3)
    y = H - 85 * mm
    c.setStrokeColorRGB(*CRIMSON)
    c.setFillColorRGB(*CRIMSON)
    c.setLineWidth(0.8)
    c.line(cx - 48 * mm, y, cx - 4 * mm, y)
    c.line(cx + 4 * mm, y, cx + 48 * mm, y)
    diamond(c, cx, y, 2.2 * mm)
    # Body.
    left, size, leading = 30 * mm, 15.0, 29.0
    w = W - 2 * left
    salutation = [("strong", p["teacher_name"]), ("plain", f" 老师（身份证号 {p['id_number_masked']}）：")]
    last = paragraph(c, salutation, left, H - 108 * mm, w, size, leading, 0)
    paragraph(c, body(p), left, last - leading * 1.15, w, size, leading, 2)
    # Issuer, date.
    rx = W - 62 * mm
    centred(c, p["issuer"], rx, 84 * mm, fitting(p["issuer"], 16, 90 * mm), INK)
    centred(c, p["issue_date"], rx, 74 * mm, 14, INK)
    # QR at level Q, 3/100-inch modules from a fixed lower left corner: one rectangle per run
    # of dark modules.
    u = 0.03 * 72
    qx, qy = 0.9 * 72, H - 10.12 * 72
    q = qrcode.QRCode(error_correction=ERROR_CORRECT_Q, border=0)
    q.add_data(p["qr_text"])
    q.make(fit=True)
    m = q.get_matrix()
    n = len(m)
    qs = n * u
    c.saveState()
    c.setFillColorRGB(0, 0, 0)
    c.transform(u, 0, 0, -u, qx, qy + qs)
    path = c.beginPath()
    for row, line in enumerate(m):
        col = 0
        while col < n:
            if line[col]:
                start = col
                while col < n and line[col]:
                    col += 1
                path.rect(start, row, col - start, 1)
            else:
                col += 1
    c.drawPath(path, stroke=0, fill=1)
    c.restoreState()
    caption = qy - 4 * u - 11.5
    centred(c, "扫码验证", qx + qs / 2, caption, 10, GREY, 0.2)
    value_x = qx + width("查验网址", 9) + 0.6 * 9
    y = caption
    for label, value, size, spacing in (
        ("查验网址", p.get("verification_address", ""), 10, 0.0),
        ("验证码", p.get("verification_code", ""), 11, 0.06),
    ):
        if not value.strip():
            continue
        y -= 15
        text(c, label, qx, y, 9, GREY)
        text(c, value, value_x, y, fitting(value, size, W - 20 * mm - value_x, spacing), INK, spacing)
    number = f"证书编号 {p['number']}"
    centred(c, number, rx, 44 * mm, fitting(number, 11, 95 * mm), INK)
    c.showPage()
    c.save()
    return buf.getvalue()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=100)
    ap.add_argument("--font", required=True)
    ap.add_argument("--page", required=True, help="the page as JSON (CertificatePage fields)")
    ap.add_argument("--out")
    a = ap.parse_args()
    page = json.loads(a.page)
    pdfmetrics.registerFont(TTFont(FONT, a.font))
    certificate(page)  # warm-up (font tables, imports)
    sizes = []
    cpu0, wall0 = time.process_time(), time.perf_counter()
    for i in range(a.n):
        pdf = certificate(dict(page, number=f"341324-2022-{i:06d}"))
        sizes.append(len(pdf))
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    if a.out:
        open(a.out, "wb").write(pdf)
    print(
        f"reportlab: {a.n} certificates, {a.n / cpu:.1f}/s per core (CPU {cpu:.3f} s; wall {wall:.3f} s), "
        f"PDF size mean {sum(sizes) / len(sizes) / 1024:.1f} KB"
    )
    print(f"RATE {a.n / cpu:.3f}")


if __name__ == "__main__":
    main()
