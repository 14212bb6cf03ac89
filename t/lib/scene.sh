# t/lib/scene.sh - the standard scene of the integration tests (bash).
#
# Source t/lib/common.sh first; this file loads t/lib/slapd.sh and
# t/lib/sink.sh.  Two directories (t/fixtures/ldap/): "hq" (this site's
# mailboxes, AD-like, reading needs the service account) and "legacy" (the
# other system, anonymous, route = legacy.corp.example); two smtp-sinks:
# "local" (this site's mailbox system) and "foreign" (the legacy system).
#
#   scene_slapd [OPTION...]
#                          start both slapd (OPTIONs as slapd_start's, e.g.
#                          syncprov); sets HQ_PORT, LEGACY_PORT
#   scene_backends [OPTION...]
#                          scene_slapd, and both sinks on 127.0.0.1; sets
#                          PF_LOCAL_SINK_PORT, PF_FOREIGN_SINK_PORT (the
#                          Sendmail tests have sm_scene_backends instead)
#   scene_clear_sinks      forget what both sinks received so far
#   scene_directories [--hq LINE | --legacy LINE | --all LINE | LINE]...
#                          print [directory hq] and [directory legacy] for
#                          the ini (and write the bind password file).  A
#                          LINE "KEY = VALUE" replaces the block's KEY line,
#                          or is added to the block when it has none; "-KEY"
#                          drops the KEY line (ini_section, t/lib/common.sh).
#                          --hq, --legacy: that block; --all: both; a bare
#                          LINE: [directory legacy].
#   scene_directory hq|legacy [LINE...]
#                          print that block alone, LINEs as above
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
	HQ_PORT=$(free_port) &&
		slapd_start hq "$HQ_PORT" ad.schema hq.ldif bindonly "$@" ||
		{ echo "scene_slapd: slapd hq" >&2; return 1; }
	LEGACY_PORT=$(free_port) &&
		slapd_start legacy "$LEGACY_PORT" misc.schema legacy.ldif "$@" ||
		{ echo "scene_slapd: slapd legacy" >&2; return 1; }
}

scene_backends() {
	scene_slapd "$@" || return 1
	PF_LOCAL_SINK_PORT=$(free_port) && sink_start local "$PF_LOCAL_SINK_PORT" || return 1
	PF_FOREIGN_SINK_PORT=$(free_port) && sink_start foreign "$PF_FOREIGN_SINK_PORT" || return 1
}

scene_clear_sinks() {
	sink_clear local
	sink_clear foreign
}

scene_directories() {
	local hq=() legacy=()

	while [ $# -gt 0 ]; do
		case $1 in
		--hq) hq+=("$2"); shift ;;
		--legacy) legacy+=("$2"); shift ;;
		--all) hq+=("$2"); legacy+=("$2"); shift ;;
		*) legacy+=("$1") ;;
		esac
		shift
	done
	scene_directory hq "${hq[@]}"
	scene_directory legacy "${legacy[@]}"
}

scene_directory() {
	local name=$1
	shift
	case $name in
	hq)
		printf '%s\n' 'hq-Secret-42' >"$T_DIR/hq.secret"
		chmod 600 "$T_DIR/hq.secret"
		ini_section "directory hq" \
			"uri = ldap://127.0.0.1:${HQ_PORT:-}" \
			"bind_dn = CN=nsmilter,OU=Service,DC=corp,DC=example" \
			"bind_password_file = $T_DIR/hq.secret" \
			"base = DC=corp,DC=example" \
			"filter = (|(mail=%s)(proxyAddresses=smtp:%s))" \
			"target_attribute = targetAddress" \
			"timeout = 2s" -- "$@"
		;;
	legacy)
		ini_section "directory legacy" \
			"uri = ldap://127.0.0.1:${LEGACY_PORT:-}" \
			"base = ou=people,dc=legacy,dc=example" \
			"filter = (|(mail=%s)(mailLocalAddress=%s))" \
			"target_attribute = mailRoutingAddress" \
			"route = legacy.corp.example" \
			"timeout = 2s" -- "$@"
		;;
	esac
}

scene_domain() {
	ini_section "domain corp.example" "type = internal-relay" \
		"directories = hq, legacy" -- "$@"
}
