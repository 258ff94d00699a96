"""Records for .ci/fuzz's second schemathesis run, so that operations on one record reach their
handler's logic instead of answering 404: the fuzzed participant's profile, invoice title,
photo and a registration in the demo period, approved by the demo admin. Prints a
schemathesis configuration binding each operation's `{id}` to the matching record.

Usage: fuzz_seed.py BASE_URL TOKEN PARTICIPANT_ID STAFF_SESSION CSRF  (standard library only)
"""

import json
import struct
import sys
import urllib.error
import urllib.request
import zlib

base, token, participant, session, csrf = sys.argv[1:6]


def call(method, path, body=None, content_type="application/json", staff=False):
    headers = {"x-csrf-token": csrf, "cookie": f"baoming_staff={session}"} if staff else {
        "authorization": f"Bearer {token}"
    }
    data = None
    if body is not None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        headers["content-type"] = content_type
    request = urllib.request.Request(base + path, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request) as response:
            return json.load(response)
    except urllib.error.HTTPError as e:
        sys.exit(f"seeding: {method} {path} answered {e.code}: {e.read().decode()}")


def id_photo(w=590, h=826):
    """A white-background PNG with a dark head and shoulders in the middle."""
    cx, cy, rx, ry = w / 2, h * 0.45, w * 0.2, h * 0.2
    rows = bytearray()
    for y in range(h):
        rows.append(0)
        for x in range(w):
            dx, dy = (x - cx) / rx, (y - cy) / ry
            dark = dx * dx + dy * dy <= 1 or (y > h * 0.78 and abs(x - cx) < w * 0.3)
            rows.extend((40, 30, 30) if dark else (250, 250, 250))

    def chunk(kind, payload):
        body = kind + payload
        return struct.pack(">I", len(payload)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(bytes(rows))) + chunk(b"IEND", b""))


call("PUT", "/api/v1/profile", {
    "name": "王芳", "gender": "female", "id_kind": "resident_id",
    "id_number": "11010519491231002X", "phone": "13800138000",
    "employer": "福建某监理有限公司", "education": "本科",
})
title = call("POST", "/api/v1/invoice-titles", {
    "kind": "company", "name": "福建某监理有限公司", "tax_id": "91350100M000100Y43",
})
boundary = "fuzzseedboundary"
form = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"photo\"; filename=\"me.png\"\r\n"
        f"Content-Type: image/png\r\n\r\n").encode() + id_photo() + f"\r\n--{boundary}--\r\n".encode()
photo = call("POST", "/api/v1/photos", form, f"multipart/form-data; boundary={boundary}")
period = call("GET", "/api/v1/periods")[0]
exam = period["exam_types"][0]
subjects = [{"code": c, "specialty": "土木建筑" if c in ("control", "case") else None}
            for c in exam["subject_codes"]]
registration = call("POST", "/api/v1/registrations", {
    "period_id": period["id"], "region_id": period["regions"][0]["id"],
    "exam_type_id": exam["id"], "subjects": subjects, "joint_invoice": False,
    "invoice_title_id": title["id"], "photo_id": photo["id"],
})
call("POST", f"/api/v1/admin/registrations/{registration['id']}/approve", staff=True)

bindings = [
    (r"^/api/v1/(admin/)?registrations/\{id\}", registration["id"]),
    (r"^/api/v1/(admin/)?periods/\{id\}", period["id"]),
    (r"^/api/v1/invoice-titles/\{id\}", title["id"]),
    (r"^/api/v1/photos/\{id\}", photo["id"]),
    (r"^/api/v1/admin/participants/\{id\}", participant),
]
for regex, value in bindings:
    print("[[operations]]")
    print(f"include-path-regex = {json.dumps(regex)}")
    print(f"parameters = {{ \"path.id\" = {json.dumps(value)} }}")
    print()
