#!/bin/sh
# ca-admin token create/list/revoke: the token is printed once and never
# stored or listed; the identity is checked with the profile at creation;
# a revoked token cannot be revoked again; every change is audited.
. "$(dirname "$0")/lib.sh"

instance
ID='{"userId":42,"platform":"linux"}'
CANON='{"platform":"linux","userId":42}'

check "token --help" admin token --help
check "token create --help" admin token create --help
check "create a token" \
    sh -c "'$CA_ADMIN' --dir '$T/ca' token create --profile client --identity '$ID' --ttl 1h >'$T/tok.out'"
TOKEN=$(sed -n 's/^token: //p' "$T/tok.out")
TID=$(sed -n 's/^id: //p' "$T/tok.out")
eq "token is 43 base64url characters" \
    "$(printf '%s' "$TOKEN" | tr -cd 'A-Za-z0-9_-' | wc -c | tr -d ' ')" 43
eq "token id is 16 hex digits" \
    "$(printf '%s' "$TID" | tr -cd '0-9a-f' | wc -c | tr -d ' ')" 16

admin token list >"$T/list.txt" 2>>"$LOG"
has "list shows the id" "$T/list.txt" "$TID"
has "list shows the canonical identity" "$T/list.txt" "$CANON"
has "list shows the token unused" "$T/list.txt" "unused"
lacks "list never shows the token" "$T/list.txt" "$TOKEN"
admin token list --json >"$T/list.json" 2>>"$LOG"
has "list --json shows the id" "$T/list.json" "\"id\": \"$TID\""
lacks "list --json never shows the token" "$T/list.json" "$TOKEN"
if grep -rqF -- "$TOKEN" "$T/ca" 2>/dev/null; then
	not_ok "the token is not stored in the instance"
else
	ok "the token is not stored in the instance"
fi

refuse "identity outside the schema is refused" \
    admin token create --profile client --identity '{"bogus":1}'
refuse "unknown profile is refused" \
    admin token create --profile nope --identity "$ID"
refuse "role in a client token is refused" \
    admin token create --profile client --identity '{"userId":1,"role":"admin"}'
fails "ttl over 30 days is a usage error" \
    admin token create --profile client --identity "$ID" --ttl 31d

check "revoke the token" admin token revoke --id "$TID"
admin token list >"$T/list2.txt" 2>>"$LOG"
has "list shows it revoked" "$T/list2.txt" "revoked"
refuse "revoking it again is refused" admin token revoke --id "$TID"
refuse "revoking an unknown id is refused" admin token revoke --id 0011223344556677

admin audit list >"$T/audit.txt" 2>>"$LOG"
has "token-create is audited" "$T/audit.txt" "token-create"
has "token-revoke is audited" "$T/audit.txt" "token-revoke"
lacks "the audit log never holds the token" "$T/audit.txt" "$TOKEN"
check "audit verifies" admin audit verify

done_testing
