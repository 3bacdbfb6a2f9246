#!/bin/sh
# Store schema versions: a store of schema 1 (made here from a new one by
# setting meta "schema" back with the LMDB tools) opens read-only until
# "ca-admin upgrade" migrates it after an automatic, verified backup; a
# store of a newer schema is refused with a clear message.
. "$(dirname "$0")/lib.sh"

need openssl mdb_dump mdb_load
instance
# set_schema N: meta "schema" (hex 736368656d61) = N, as an older or newer build wrote it.
set_schema() {
	mdb_dump -s meta "$T/ca/store" 2>>"$LOG" |
	    awk -v v="$(printf ' %08x' "$1")" '
		prev == " 736368656d61" { print v; prev = ""; next }
		{ print; prev = $0 }' >"$T/meta.dump"
	mdb_load -s meta "$T/ca/store" <"$T/meta.dump" 2>>"$LOG"
}
csr a
admin issue --profile client --csr "$T/a.csr" --identity '{"userId":1}' --out "$T/a.crt" >>"$LOG" 2>&1
set_schema 1

refuse "a schema 1 store is not written" admin issue --profile client --csr "$T/a.csr" \
    --identity '{"userId":2}'
has "... and the message says how to upgrade" "$T/refuse.err" "ca-admin upgrade"
check "it is read: list" admin list
check "it is read: audit verify" admin audit verify
admin upgrade >"$T/up.txt" 2>>"$LOG"
eq "upgrade succeeds" "$?" 0
has "upgrade names the version" "$T/up.txt" "from schema version 1 to 2"
bk=$(sed -n 's/.*backup before the upgrade: //p' "$T/up.txt")
check "the automatic backup exists" test -s "$bk"
check "restore takes it (and migrates the copy)" "$CA_ADMIN" restore --from "$bk" --dir "$T/r"
admin audit list >"$T/audit.txt" 2>>"$LOG"
has "the upgrade is audited" "$T/audit.txt" " upgrade "
has "... with its backup" "$T/audit.txt" " backup "
check "audit verify after the upgrade" admin audit verify
check "the upgraded store is written: issue" admin issue --profile client --csr "$T/a.csr" \
    --identity '{"userId":2}'
check "and takes disabled identities" admin identity disable --identity '{"userId":2}'
refuse "upgrade again: nothing to do" admin upgrade

set_schema 3
refuse "a newer store is refused" admin list
has "... saying a newer Lanyard wrote it" "$T/refuse.err" "newer Lanyard"
refuse "... and upgrade does not touch it" admin upgrade
done_testing
