# t/lib/scene.sh - the standard scene of the integration tests (bash).
#
# Source t/lib/common.sh first; this file loads t/lib/slapd.sh and
# t/lib/sink.sh.  Two directories (t/fixtures/ldap/): "hq" (this site's
# mailboxes, AD-like, reading needs the service account) and "legacy" (the
# other system, anonymous, route = legacy.corp.example); two smtp-sinks:
# "local" (this site's mailbox system) and "foreign" (the legacy system).
#
#   scene_slapd            start both slapd; sets HQ_PORT, LEGACY_PORT
#   scene_backends         scene_slapd, and both sinks on 127.0.0.1; sets
#                          PF_LOCAL_SINK_PORT, PF_FOREIGN_SINK_PORT (the
#                          Sendmail tests have sm_scene_backends instead)
#   scene_clear_sinks      forget what both sinks received so far
#   scene_directories [--hq LINE | --legacy LINE | --all LINE | LINE]...
#                          print [directory hq] and [directory legacy] for
#                          the ini (and write the bind password file).  A
#                          LINE "KEY = VALUE" replaces the block's KEY line,
#                          or is added to the block when it has none; "-KEY"
#                          drops the KEY line.  --hq, --legacy: that block;
#                          --all: both; a bare LINE: [directory legacy].
#   scene_domain [LINE...] print [domain corp.example] (internal-relay,
#                          directories = hq, legacy), LINEs as above
#
# The blocks as printed without overrides:
#
#   [directory hq]                      [directory legacy]
#   uri = ldap://127.0.0.1:$HQ_PORT      uri = ldap://127.0.0.1:$LEGACY_PORT
#   bind_dn = CN=nsmilter,OU=Service,... base = ou=people,dc=legacy,...
#   bind_password_file = $T_DIR/hq.secret filter = (|(mail=%s)(mailLocal...
#   base = DC=corp,DC=example           target_attribute = mailRoutingAddress
#   filter = (|(mail=%s)(proxyAdd...    route = legacy.corp.example
#   target_attribute = targetAddress    timeout = 2s
#   timeout = 2s

# shellcheck source=slapd.sh
. "$NSMILTER_SRCDIR/t/lib/slapd.sh"
# shellcheck source=sink.sh
. "$NSMILTER_SRCDIR/t/lib/sink.sh"

scene_slapd() {
	HQ_PORT=$(free_port) && slapd_start hq "$HQ_PORT" ad.schema hq.ldif bindonly ||
		{ echo "scene_slapd: slapd hq" >&2; return 1; }
	LEGACY_PORT=$(free_port) && slapd_start legacy "$LEGACY_PORT" misc.schema legacy.ldif ||
		{ echo "scene_slapd: slapd legacy" >&2; return 1; }
}

scene_backends() {
	scene_slapd || return 1
	PF_LOCAL_SINK_PORT=$(free_port) && sink_start local "$PF_LOCAL_SINK_PORT" || return 1
	PF_FOREIGN_SINK_PORT=$(free_port) && sink_start foreign "$PF_FOREIGN_SINK_PORT" || return 1
}

scene_clear_sinks() {
	sink_clear local
	sink_clear foreign
}

# _scene_key LINE: the key of "KEY = VALUE" or "-KEY".
_scene_key() {
	local k=${1#-}
	k=${k%%=*}
	k=${k%"${k##*[![:space:]]}"}
	printf '%s' "$k"
}

# _scene_set ARRAY LINE: apply one override to the lines in ARRAY.
_scene_set() {
	local -n _lines=$1
	local line=$2 key i
	key=$(_scene_key "$line")
	for i in "${!_lines[@]}"; do
		[ "$(_scene_key "${_lines[$i]}")" = "$key" ] || continue
		if [ "${line:0:1}" = - ]; then
			unset '_lines[i]'
		else
			_lines[i]=$line
		fi
		return 0
	done
	[ "${line:0:1}" = - ] || _lines+=("$line")
}

# _scene_print HEADER LINE...
_scene_print() {
	printf '%s\n' "$@"
	echo
}

scene_directories() {
	local hq=(
		"uri = ldap://127.0.0.1:$HQ_PORT"
		"bind_dn = CN=nsmilter,OU=Service,DC=corp,DC=example"
		"bind_password_file = $T_DIR/hq.secret"
		"base = DC=corp,DC=example"
		"filter = (|(mail=%s)(proxyAddresses=smtp:%s))"
		"target_attribute = targetAddress"
		"timeout = 2s"
	)
	local legacy=(
		"uri = ldap://127.0.0.1:$LEGACY_PORT"
		"base = ou=people,dc=legacy,dc=example"
		"filter = (|(mail=%s)(mailLocalAddress=%s))"
		"target_attribute = mailRoutingAddress"
		"route = legacy.corp.example"
		"timeout = 2s"
	)
	while [ $# -gt 0 ]; do
		case $1 in
		--hq) _scene_set hq "$2"; shift ;;
		--legacy) _scene_set legacy "$2"; shift ;;
		--all) _scene_set hq "$2"; _scene_set legacy "$2"; shift ;;
		*) _scene_set legacy "$1" ;;
		esac
		shift
	done
	printf '%s\n' 'hq-Secret-42' >"$T_DIR/hq.secret"
	chmod 600 "$T_DIR/hq.secret"
	_scene_print "[directory hq]" "${hq[@]}"
	_scene_print "[directory legacy]" "${legacy[@]}"
}

scene_domain() {
	local dom=(
		"type = internal-relay"
		"directories = hq, legacy"
	)
	local line
	for line in "$@"; do _scene_set dom "$line"; done
	_scene_print "[domain corp.example]" "${dom[@]}"
}
