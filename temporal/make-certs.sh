#!/usr/bin/env bash
# Makes the certificates of Temporal's trust boundary (mTLS) with openssl, into folder D:
#   make-certs.sh --dir D [--days N] [--server-name NAME] [--client NAME]...
#
#   D/ca.pem, D/ca.key                the client CA: signs the frontend's server certificate and the
#                                     client certificates; the frontend accepts clients it signed
#   D/frontend.pem, D/frontend.key    the frontend's server certificate: CN and DNS name NAME
#                                     (default temporal), plus localhost and 127.0.0.1
#   D/internode-ca.pem, .key          a second CA, for the server's own services only (history,
#                                     matching, the internal frontend its system workers use); a
#                                     client certificate can never reach them
#   D/internode.pem, .key             the certificate those services present to each other
#   D/clients/<name>.pem, .key        one client certificate per name: worker, api and ui (the Temporal
#                                     UI) always, each --client NAME (an operator, e.g. --client alice,
#                                     or admin for the setup job) in addition
#
# ECDSA P-256 keys; private keys are mode 0600 in 0700 folders. Leaf certificates live --days days
# (default 90, at most 397); the CAs 3 × that, at most 1095 days. Running it again keeps the CAs and
# every existing certificate that still has more than a third of its life left, and makes the
# missing ones: add an operator with `--client NAME`. Rotate a leaf by deleting it and running
# again; rotate a CA by deleting the folder's CA files (every certificate it signed is remade).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"

dir="" days=90 server_name="temporal" clients=(worker api ui)
while [ $# -gt 0 ]; do
  case "$1" in
    --dir) dir="${2:-}"; shift 2 ;;
    --days) days="${2:-}"; shift 2 ;;
    --server-name) server_name="${2:-}"; shift 2 ;;
    --client) clients+=("${2:-}"); shift 2 ;;
    *) die "make-certs.sh: unknown option $1 (usage: make-certs.sh --dir D [--days N] [--server-name NAME] [--client NAME]...)" ;;
  esac
done
[ -n "$dir" ] || die "usage: make-certs.sh --dir D [--days N] [--server-name NAME] [--client NAME]..."
[[ "$days" =~ ^[0-9]{1,3}$ ]] && [ "$days" -ge 1 ] && [ "$days" -le 397 ] || die "--days must be a whole number from 1 to 397"
[[ "$server_name" =~ ^[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$ ]] || die "--server-name must be a DNS name (letters, digits, dots, hyphens)"
for name in "${clients[@]}"; do
  [[ "$name" =~ ^[a-z0-9][a-z0-9._-]{0,62}$ ]] || die "--client names are 1-63 lower-case letters, digits, dots, hyphens or underscores"
done
command -v openssl >/dev/null 2>&1 || die "openssl is required (apt-get install openssl)"
ca_days=$((days * 3)); [ "$ca_days" -le 1095 ] || ca_days=1095

umask 077
mkdir -p "$dir/clients"
chmod 0700 "$dir" "$dir/clients"
work="$(mktemp -d "$dir/.work.XXXXXX")"
trap 'rm -rf "$work"' EXIT

# True when certificate $1 exists and is still valid for more than a third of $2 days.
fresh() {
  [ -f "$1" ] && openssl x509 -in "$1" -noout -checkend $(($2 * 86400 / 3)) >/dev/null 2>&1
}

new_key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; chmod 0600 "$1"; }

# make_ca NAME SUBJECT: a self-signed CA for signing leaf certificates only (pathlen 0).
make_ca() {
  local base="$dir/$1"
  if fresh "$base.pem" "$ca_days" && [ -f "$base.key" ]; then return 1; fi
  log "making $1 (valid $ca_days days)"
  new_key "$base.key"
  openssl req -x509 -new -key "$base.key" -sha256 -days "$ca_days" -subj "$2" \
    -addext "basicConstraints=critical,CA:TRUE,pathlen:0" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" -out "$base.pem"
  chmod 0644 "$base.pem"
}

# make_leaf CA BASE CN EXTENDED_KEY_USAGE [SUBJECT_ALT_NAMES]: a certificate signed by CA.
make_leaf() {
  local ca="$dir/$1" base="$2" cn="$3" eku="$4" san="${5:-}"
  if [ "$renew_all" = 0 ] && fresh "$base.pem" "$days" && [ -f "$base.key" ]; then return 0; fi
  log "making $(basename "$base").pem for $cn (valid $days days)"
  new_key "$base.key"
  {
    echo "basicConstraints=critical,CA:FALSE"
    echo "keyUsage=critical,digitalSignature"
    echo "extendedKeyUsage=$eku"
    [ -z "$san" ] || echo "subjectAltName=$san"
  } >"$work/ext"
  openssl req -new -key "$base.key" -subj "/O=Modelgate/CN=$cn" -out "$work/csr" 2>/dev/null
  openssl x509 -req -in "$work/csr" -CA "$ca.pem" -CAkey "$ca.key" -CAcreateserial -sha256 \
    -days "$days" -extfile "$work/ext" -out "$base.pem" 2>/dev/null
  chmod 0644 "$base.pem"
  rm -f "$ca.srl"
}

renew_all=0
make_ca ca "/O=Modelgate/CN=Modelgate Temporal client CA" && renew_all=1
make_leaf ca "$dir/frontend" "$server_name" serverAuth "DNS:$server_name,DNS:localhost,IP:127.0.0.1"
for name in "${clients[@]}"; do
  make_leaf ca "$dir/clients/$name" "$name" clientAuth
done

renew_all=0
make_ca internode-ca "/O=Modelgate/CN=Modelgate Temporal internode CA" && renew_all=1
make_leaf internode-ca "$dir/internode" "$server_name-internode" serverAuth,clientAuth "DNS:$server_name-internode,DNS:localhost,IP:127.0.0.1"
echo "$dir"
