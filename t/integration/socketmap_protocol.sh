#!/bin/bash
# socketmap_protocol.sh - the running daemon's socketmap with real
# directories, no MTA: Postfix's own client (postmap -q ... socketmap:...)
# and raw netstrings (python3) for what an MTA would never send.  Answers:
# a foreign recipient OK + its directory's transport (any case, with an
# extension, an alias), a fallback-routed one OK + fallback_transport,
# local, unknown, target-address, other-domain and domain-only keys
# NOTFOUND, a directory down TEMP, an unknown map name PERM; a bad request
# PERM with the connection kept, garbage and oversized requests PERM and
# closed; several requests on one connection; the socket's mode; a
# reload keeps it; a stop removes it.  (t/unit/test_socketmap.c covers the
# protocol server with a fake callback.)

. "$(dirname "$0")/../lib/common.sh"
. "$NSMILTER_SRCDIR/t/lib/scene.sh"
. "$NSMILTER_SRCDIR/t/lib/nsmilter.sh"

scene_slapd || setup_failed "slapd (see above)"
SOCKETMAP=$(nsmilter_dir mx)/socketmap.sock
{
	nsmilter_milter_section mx "socketmap = unix:$SOCKETMAP" "socket_mode = 0660"
	scene_directories "transport = smtp:[192.0.2.25]"
	scene_domain "rewrite = no" "recipient_delimiter = +"
	cat <<EOF
[domain ext.example]
type = external-relay
directories = hq
fallback_route = ext-route.example
fallback_transport = relay:[192.0.2.99]:2525
EOF
} | nsmilter_write_ini mx
nsmilter_start mx || setup_failed "nsmilter"
wait_for test -S "$SOCKETMAP" || setup_failed "no socketmap socket at $SOCKETMAP"
assert_eq "$(stat -c %a "$SOCKETMAP")" 660 "socket: created with [milter] socket_mode"

# postmap needs a config directory; nothing else of Postfix runs here.
mkdir -p "$T_DIR/pf" && echo "compatibility_level = 3.6" >"$T_DIR/pf/main.cf"
SM="socketmap:unix:$SOCKETMAP:transport"
# pq KEY: "STATUS VALUE" - postmap's exit status and output
pq() {
	local v rc
	v=$(postmap -c "$T_DIR/pf" -q "$1" "$SM" 2>/dev/null)
	rc=$?
	echo "$rc $v"
}

# raw REQUEST...: send each REQUEST as a netstring on one connection (a
# request "RAW:bytes" is sent as is), print each reply payload on a line,
# then "EOF" if the server closed the connection.
cat >"$T_DIR/raw.py" <<'EOF'
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(10)
s.connect(sys.argv[1])
buf = b""
def reply():
    global buf
    while True:
        i = buf.find(b":")
        if i > 0:
            n = int(buf[:i])
            if len(buf) >= i + 1 + n + 1:
                p = buf[i + 1:i + 1 + n]
                assert buf[i + 1 + n:i + 2 + n] == b",", buf
                buf = buf[i + 2 + n:]
                return p.decode()
        d = s.recv(65536)
        if not d:
            return None
        buf += d
for r in sys.argv[2:]:
    if r.startswith("RAW:"):
        data = r[4:].encode()
    elif r.startswith("BIG:"):
        data = (r[4:] + ":").encode() + b"x" * int(r[4:]) + b","
    else:
        data = b"%d:%s," % (len(r.encode()), r.encode())
    try:
        s.sendall(data)
    except OSError:
        print("EOF")
        sys.exit(0)
    p = reply()
    if p is None:
        print("EOF")
        sys.exit(0)
    print(p)
# still open?  A closed connection reads EOF at once, an open one times out.
s.settimeout(0.5)
try:
    print("EOF" if s.recv(1) == b"" else "DATA")
except socket.timeout:
    print("OPEN")
except OSError:
    print("EOF")
EOF
raw() { python3 "$T_DIR/raw.py" "$SOCKETMAP" "$@" 2>&1; }

# --- Postfix's client ----------------------------------------------------------
assert_eq "$(pq bob@corp.example)" "0 smtp:[192.0.2.25]" "postmap: foreign bob -> legacy's transport"
assert_eq "$(pq BOB@Corp.Example)" "0 smtp:[192.0.2.25]" "postmap: any case"
assert_eq "$(pq bob+news@corp.example)" "0 smtp:[192.0.2.25]" "postmap: with an address extension"
assert_eq "$(pq robert@corp.example)" "0 smtp:[192.0.2.25]" "postmap: an alias of the foreign user"
assert_eq "$(pq alice@corp.example)" "1 " "postmap: local alice not found"
assert_eq "$(pq nobody@corp.example)" "1 " "postmap: unknown nobody not found"
assert_eq "$(pq carol@corp.example)" "1 " "postmap: target-address contact (hq, no transport) not found"
assert_eq "$(pq x@elsewhere.example)" "1 " "postmap: another domain not found"
assert_eq "$(pq corp.example)" "1 " "postmap: the domain-only key not found"
assert_eq "$(pq .corp.example)" "1 " "postmap: the parent-domain key not found"
assert_eq "$(pq xavier@ext.example)" "0 relay:[192.0.2.99]:2525" "postmap: fallback-routed recipient -> fallback_transport"
assert_match "$("$NSMILTER" -c "$(nsmilter_ini mx)" -q xavier@ext.example)" '^xavier@ext\.example route to=xavier@ext-route\.example' \
	"-q agrees: xavier@ext.example is routed to the fallback"

# --- raw netstrings --------------------------------------------------------------
assert_eq "$(raw "transport bob@corp.example" "transport alice@corp.example" "transport corp.example" "transport xavier@ext.example")" \
	"OK smtp:[192.0.2.25]
NOTFOUND 
NOTFOUND 
OK relay:[192.0.2.99]:2525
OPEN" "raw: four requests on one connection, answered in order"
assert_eq "$(raw "virtual bob@corp.example" "transport bob@corp.example")" "PERM unknown map name: virtual
OK smtp:[192.0.2.25]
OPEN" "raw: unknown map name PERM, connection kept"
assert_match "$(raw "hello" "transport bob@corp.example")" '^PERM invalid request.*
OK smtp:\[192\.0\.2\.25\]
OPEN$' "raw: a request without a key PERM, connection kept"
assert_eq "$(raw "transport " | head -1)" "NOTFOUND " "raw: an empty key NOTFOUND"
assert_match "$(raw "RAW:hello world" "transport bob@corp.example")" '^PERM malformed request
EOF$' "raw: not a netstring: PERM and closed"
assert_match "$(raw "BIG:10001" "transport bob@corp.example")" '^PERM request too long
EOF$' "raw: 10001-byte request: PERM and closed"
# exactly 10000 bytes: "transport " + 9977 + "@corp.example" (a local part
# far too long: NOTFOUND, the milter answers 501 for it)
long="transport $(printf 'a%.0s' $(seq 1 9977))@corp.example"
assert_eq "${#long}" 10000 "raw: (the long request is 10000 bytes)"
assert_eq "$(raw "$long" "transport bob@corp.example" | tr '\n' '|')" "NOTFOUND |OK smtp:[192.0.2.25]|OPEN|" \
	"raw: a 10000-byte request is answered and the connection kept"
assert_eq "$(raw "RAW:20:transport bob@corp.example" | tr '\n' '|')" "PERM malformed request|EOF|" \
	"raw: a length that does not match the comma: PERM and closed, no answer for the key"
assert_eq "$(raw "transport bob@corp.example" "transport bob@corp.example")" "OK smtp:[192.0.2.25]
OK smtp:[192.0.2.25]
OPEN" "raw: the daemon still answers after all that"
assert_match "$(nsmilter_grep mx 'socketmap: rcpt=<bob@corp\.example>')" 'action=route .*reply="OK smtp:\[192\.0\.2\.25\]"' \
	"log: each lookup logged with the decision and the reply"

# --- a directory down ----------------------------------------------------------
slapd_stop legacy
assert_match "$(raw "transport bob@corp.example")" '^TEMP legacy: ' "down: bob TEMP, naming the directory"
assert_match "$(raw "transport nobody@corp.example")" '^TEMP ' "down: unknown nobody TEMP (legacy might own it)"
assert_eq "$(raw "transport alice@corp.example" | head -1)" "NOTFOUND " "down: alice (found in hq, listed first) still NOTFOUND"
assert_eq "$(raw "transport x@elsewhere.example" | head -1)" "NOTFOUND " "down: another domain still NOTFOUND"
postmap -c "$T_DIR/pf" -q bob@corp.example "$SM" >/dev/null 2>"$T_DIR/postmap.err"
# (postmap exits 1 for "not found" and for errors alike: read its messages)
assert_match "$(cat "$T_DIR/postmap.err")" 'socketmap server temporary error: legacy: ' "down: Postfix's client reports the socketmap's temporary error"
assert_match "$(cat "$T_DIR/postmap.err")" 'fatal: .*query error' "down: postmap treats it as a query error, not as not found"
_slapd_run legacy || setup_failed "restart legacy"
wait_for bash -c "postmap -c '$T_DIR/pf' -q bob@corp.example '$SM' | grep -q ."
assert_eq "$(pq bob@corp.example)" "0 smtp:[192.0.2.25]" "back: bob OK again once legacy answers"

# --- reload and stop ----------------------------------------------------------
nsmilter_reload mx
assert_eq "$(pq bob@corp.example)" "0 smtp:[192.0.2.25]" "reload: the socketmap still answers"
nsmilter_stop mx
assert_eq "$([ -e "$SOCKETMAP" ] && echo exists || echo gone)" gone "stop: the socket is removed"

done_testing
