#!/usr/bin/env python3
"""Convert the plaintext HTTP/1.x exchanges of a capture into a HAR 1.2 file shaped like a
Chrome DevTools export ("Save all as HAR with content").

    scripts/har_from_tshark.py CAPTURE -o OUT.har [--from-frame N] [--to-frame N]
                               [--page-url-contains TEXT] [--max-text BYTES] [--max-binary BYTES]

tshark (4.x) dissects and reassembles; this script only reshapes its JSON output (`-T json -x`,
so bodies arrive as the exact bytes tshark de-chunked and decompressed). Used to make
fixtures/har/1kxun_chrome.har from the nDPI capture 1kxun.pcap (see fixtures/har/SOURCES.md).

What is Chrome-like: creator "WebInspector", a page whose sub-resources carry `pageref`
(requests whose Referer is the page, or the page itself), `_initiator`, `_priority`,
`_resourceType`, `_transferSize`, `_error`, `connection` as a string, `serverIPAddress`, ms
timings with -1 for unknown phases, binary bodies in base64, `queryString` decoded, cookies
split from Cookie / Set-Cookie. What is not: timings are only "wait" (request frame to
response frame); bodies larger than the caps are left out (Chrome also omits bodies it
evicted), and a binary request body is written one byte per character (U+0000..U+00FF), as
some HAR writers do. Requests without a response in the capture get status 0 and
`_error: "net::ERR_ABORTED"`.
"""

import argparse
import base64
import datetime
import json
import subprocess
import sys
from urllib.parse import parse_qsl, urlsplit

FIELDS_WANTED = {
    "frame.number", "frame.time_epoch", "ip.src", "ip.dst", "ipv6.src", "ipv6.dst", "tcp.srcport",
    "tcp.dstport", "tcp.stream", "http.request.method", "http.request.uri", "http.request.version",
    "http.request.full_uri", "http.request.line", "http.response.version", "http.response.code",
    "http.response.phrase", "http.response.line", "http.request_in", "http.response_in",
    "http.file_data_raw", "http.content_length_header",
}


def collect(obj, out):
    """Flatten tshark's nested JSON tree into {field: [values]} for the fields we want."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            if isinstance(v, dict):
                collect(v, out)
            elif k in FIELDS_WANTED:
                if k.endswith("_raw"):
                    # One raw value is [hex, pos, len, mask, type]; several are a list of those.
                    vals = v if v and isinstance(v[0], list) else [v]
                else:
                    vals = v if isinstance(v, list) else [v]
                out.setdefault(k, []).extend(vals)


def first(f, key, default=None):
    v = f.get(key)
    return v[0] if v else default


def header_pairs(lines):
    out = []
    for line in lines or []:
        line = line.rstrip("\r\n")
        name, sep, value = line.partition(":")
        if sep:
            out.append({"name": name.strip(), "value": value.strip()})
    return out


def get_header(headers, name):
    for h in headers:
        if h["name"].lower() == name.lower():
            return h["value"]
    return None


def iso(ts):
    t = datetime.datetime.fromtimestamp(float(ts), datetime.timezone.utc)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def body_bytes(f):
    raw = first(f, "http.file_data_raw")
    return bytes.fromhex(raw[0]) if raw else b""


def is_text(mime, data):
    m = (mime or "").lower()
    if any(t in m for t in ("text/", "json", "javascript", "xml", "html", "css", "x-www-form-urlencoded")):
        try:
            data.decode("utf-8")
            return True
        except UnicodeDecodeError:
            return False
    return False


def resource_type(mime, is_page_doc, upgrade):
    m = (mime or "").lower()
    if upgrade:
        return "websocket"
    if is_page_doc:
        return "document"
    if "css" in m:
        return "stylesheet"
    if "javascript" in m:
        return "script"
    if m.startswith("image/"):
        return "image"
    if "json" in m or "xml" in m:
        return "xhr"
    return "other"


PRIORITY = {"document": "VeryHigh", "stylesheet": "VeryHigh", "script": "High", "xhr": "High",
            "image": "Low", "websocket": "Medium", "other": "Low"}


def request_cookies(headers):
    out = []
    for h in headers:
        if h["name"].lower() == "cookie":
            for part in h["value"].split(";"):
                name, sep, value = part.strip().partition("=")
                if sep:
                    out.append({"name": name, "value": value, "path": "/", "domain": "",
                                "expires": "1969-12-31T23:59:59.000Z", "httpOnly": False, "secure": False})
    return out


def response_cookies(headers):
    out = []
    for h in headers:
        if h["name"].lower() == "set-cookie":
            parts = h["value"].split(";")
            name, sep, value = parts[0].strip().partition("=")
            if not sep:
                continue
            c = {"name": name, "value": value, "path": "/", "domain": "", "httpOnly": False, "secure": False}
            for a in parts[1:]:
                k, _, v = a.strip().partition("=")
                kl = k.lower()
                if kl in ("path", "domain"):
                    c[kl] = v
                elif kl == "httponly":
                    c["httpOnly"] = True
                elif kl == "secure":
                    c["secure"] = True
            out.append(c)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("capture")
    ap.add_argument("-o", "--output", required=True)
    ap.add_argument("--from-frame", type=int, default=1)
    ap.add_argument("--to-frame", type=int, default=10**9)
    ap.add_argument("--page-url-contains", default=None,
                    help="the first request whose URL contains this is the page (document)")
    ap.add_argument("--max-text", type=int, default=8192, help="largest text body kept")
    ap.add_argument("--max-binary", type=int, default=1024, help="largest binary body kept (base64)")
    a = ap.parse_args()

    flt = f"http and frame.number >= {a.from_frame} and frame.number <= {a.to_frame}"
    out = subprocess.run(
        ["tshark", "-r", a.capture, "-Y", flt, "-T", "json", "-x", "--no-duplicate-keys",
         "-J", "frame ip ipv6 tcp http"],
        check=True, capture_output=True)
    packets = json.loads(out.stdout)

    frames = {}
    for p in packets:
        f = {}
        collect(p["_source"]["layers"], f)
        frames[int(first(f, "frame.number"))] = f

    requests = [n for n, f in sorted(frames.items()) if "http.request.method" in f]
    responses = {}
    for n, f in frames.items():
        if "http.response.code" in f and "http.request_in" in f:
            responses[int(first(f, "http.request_in"))] = f

    page = None
    entries = []
    for n in requests:
        q = frames[n]
        url = first(q, "http.request.full_uri")
        if not url:
            continue
        t0 = float(first(q, "frame.time_epoch"))
        headers = header_pairs(q.get("http.request.line"))
        is_page_doc = page is None and a.page_url_contains and a.page_url_contains in url
        if is_page_doc:
            page = {"startedDateTime": iso(t0), "id": "page_1", "title": url,
                    "pageTimings": {"onContentLoad": -1, "onLoad": -1}, "_t0": t0,
                    "_origin": "{0.scheme}://{0.netloc}/".format(urlsplit(url))}
        referer = get_header(headers, "Referer")
        # WebViews send an origin-only Referer ("http://host/"), so match on the page's origin.
        on_page = is_page_doc or (page is not None and referer is not None and referer.startswith(page["_origin"]))

        r = responses.get(n)
        rheaders = header_pairs(r.get("http.response.line")) if r else []
        mime = get_header(rheaders, "Content-Type") or ""
        upgrade = r is not None and first(r, "http.response.code") == "101"
        rtype = resource_type(mime, is_page_doc, upgrade)

        qbody = body_bytes(q)
        request = {
            "method": first(q, "http.request.method"),
            "url": url,
            "httpVersion": first(q, "http.request.version", "HTTP/1.1"),
            "headers": headers,
            "queryString": [{"name": k, "value": v} for k, v in parse_qsl(urlsplit(url).query, keep_blank_values=True)],
            "cookies": request_cookies(headers),
            "headersSize": sum(len(h["name"]) + len(h["value"]) + 4 for h in headers) + 2,
            "bodySize": len(qbody),
        }
        if qbody or request["method"] in ("POST", "PUT", "PATCH"):
            qmime = get_header(headers, "Content-Type") or ""
            try:
                text = qbody.decode("utf-8")
            except UnicodeDecodeError:
                text = qbody.decode("latin-1")
            pd = {"mimeType": qmime, "text": text}
            if "x-www-form-urlencoded" in qmime.lower():
                pd["params"] = [{"name": k, "value": v} for k, v in parse_qsl(text, keep_blank_values=True)]
            request["postData"] = pd

        if r:
            t1 = float(first(r, "frame.time_epoch"))
            data = body_bytes(r)
            content = {"size": len(data), "mimeType": mime.split(";")[0].strip() or "x-unknown"}
            if data and is_text(mime, data) and len(data) <= a.max_text:
                content["text"] = data.decode("utf-8")
            elif data and not is_text(mime, data) and len(data) <= a.max_binary:
                content["text"] = base64.b64encode(data).decode()
                content["encoding"] = "base64"
            wire_len = first(r, "http.content_length_header")
            response = {
                "status": int(first(r, "http.response.code")),
                "statusText": first(r, "http.response.phrase", ""),
                "httpVersion": first(r, "http.response.version", "HTTP/1.1"),
                "headers": rheaders,
                "cookies": response_cookies(rheaders),
                "content": content,
                "redirectURL": get_header(rheaders, "Location") or "",
                "headersSize": sum(len(h["name"]) + len(h["value"]) + 4 for h in rheaders) + 2,
                "bodySize": int(wire_len) if wire_len else -1,
                "_transferSize": int(wire_len) if wire_len else -1,
                "_error": None,
            }
            wait = round((t1 - t0) * 1000, 3)
        else:
            response = {"status": 0, "statusText": "", "httpVersion": "", "headers": [], "cookies": [],
                        "content": {"size": 0, "mimeType": "x-unknown"}, "redirectURL": "", "headersSize": -1,
                        "bodySize": -1, "_transferSize": 0, "_error": "net::ERR_ABORTED"}
            wait = 0

        entry = {
            "_initiator": {"type": "parser", "url": page["title"]} if on_page and not is_page_doc else {"type": "other"},
            "_priority": PRIORITY[rtype],
            "_resourceType": rtype,
            "cache": {},
            "connection": str(first(q, "tcp.stream")),
        }
        if on_page:
            entry["pageref"] = "page_1"
        entry.update({
            "request": request,
            "response": response,
            "serverIPAddress": first(q, "ip.dst") or first(q, "ipv6.dst"),
            "startedDateTime": iso(t0),
            "time": wait,
            "timings": {"blocked": -1, "dns": -1, "ssl": -1, "connect": -1, "send": 0, "wait": wait,
                        "receive": 0, "_blocked_queueing": -1},
        })
        entries.append(entry)
        if on_page and page is not None:
            end_ms = round((t0 - page["_t0"]) * 1000 + wait, 3)
            page["pageTimings"]["onLoad"] = max(page["pageTimings"]["onLoad"], end_ms)
            if rtype in ("document", "stylesheet", "script"):
                page["pageTimings"]["onContentLoad"] = max(page["pageTimings"]["onContentLoad"], end_ms)

    pages = []
    if page is not None:
        del page["_t0"], page["_origin"]
        pages.append(page)
    har = {"log": {"version": "1.2", "creator": {"name": "WebInspector", "version": "537.36"},
                   "pages": pages, "entries": entries}}
    with open(a.output, "w", encoding="utf-8") as fh:
        json.dump(har, fh, indent=2, ensure_ascii=False)
        fh.write("\n")
    print(f"{a.output}: {len(entries)} entries, {sum(1 for e in entries if e['response']['status'])} with a response",
          file=sys.stderr)


if __name__ == "__main__":
    main()
