# SPDX-License-Identifier: GPL-2.0
# Test certificates, made at test time with the openssl command (nothing
# secret is in the tree).  Each CA is a folder DIR/NAME.db of `openssl ca`
# with its certificate DIR/NAME.pem and key DIR/NAME.key; keys are mode 0600.
#
#   pki_key FILE TYPE       a private key: rsa (2048 bits), rsa3072, p256,
#                           p384, ed25519
#   pki_ca DIR NAME [TYPE]  a self-signed CA, CN=NAME (default key p256)
#   pki_subca DIR PARENT NAME
#                           an intermediate CA NAME (p256) signed by PARENT
#   pki_issue DIR CA NAME TYPE SAN [START END]
#                           DIR/NAME.pem and DIR/NAME.key: CN=NAME, subjectAltName
#                           SAN ("DNS:gw.test"), signed by CA; START and END
#                           (YYYYMMDDHHMMSSZ) make one outside today's dates
#   pki_revoke DIR CA NAME  revoke NAME's certificate, write DIR/CA.crl
#   pki_crl DIR CA          write DIR/CA.crl (nothing revoked yet)

PKI_O=${PKI_O:-esptcp test}

pki_key() { # pki_key FILE TYPE
	local f=$1 t=$2
	local -a opt
	case $t in
	rsa) opt=(-algorithm RSA -pkeyopt rsa_keygen_bits:2048) ;;
	rsa3072) opt=(-algorithm RSA -pkeyopt rsa_keygen_bits:3072) ;;
	p256) opt=(-algorithm EC -pkeyopt ec_paramgen_curve:P-256) ;;
	p384) opt=(-algorithm EC -pkeyopt ec_paramgen_curve:P-384) ;;
	ed25519) opt=(-algorithm ED25519) ;;
	*) echo "# pki_key: unknown key type $t" >&2; return 1 ;;
	esac
	(umask 077 && openssl genpkey "${opt[@]}" -out "$f" 2>/dev/null)
}

# _pki_cnf DIR NAME: the `openssl ca` configuration and database of CA NAME
_pki_cnf() {
	local dir=$1 name=$2 db
	db=$dir/$name.db
	mkdir -p "$db"
	: >"$db/index"
	echo 1000 >"$db/serial"
	echo 01 >"$db/crlnumber"
	cat >"$dir/$name.cnf" <<EOF
[ ca ]
default_ca = ca_default
[ ca_default ]
database = $db/index
serial = $db/serial
crlnumber = $db/crlnumber
new_certs_dir = $db
certificate = $dir/$name.pem
private_key = $dir/$name.key
default_md = sha256
default_days = 30
default_crl_days = 30
policy = policy_any
unique_subject = no
email_in_dn = no
[ policy_any ]
organizationName = optional
commonName = supplied
[ leaf ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
subjectAltName = \$ENV::PKI_SAN
[ subca ]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
EOF
}

pki_ca() { # pki_ca DIR NAME [TYPE]
	local dir=$1 name=$2 t=${3:-p256}
	_pki_cnf "$dir" "$name"
	pki_key "$dir/$name.key" "$t"
	openssl req -x509 -new -key "$dir/$name.key" -subj "/O=$PKI_O/CN=$name" -days 30 \
		-addext "basicConstraints=critical,CA:TRUE" \
		-addext "keyUsage=critical,keyCertSign,cRLSign" -out "$dir/$name.pem" 2>/dev/null
	echo "# pki: CA $name ($t)"
}

pki_subca() { # pki_subca DIR PARENT NAME: an intermediate CA under PARENT (p256)
	local dir=$1 parent=$2 name=$3
	_pki_cnf "$dir" "$name"
	pki_key "$dir/$name.key" p256
	openssl req -new -key "$dir/$name.key" -subj "/O=$PKI_O/CN=$name" \
		-out "$dir/$name.csr" 2>/dev/null
	PKI_SAN=DNS:unused openssl ca -batch -notext -config "$dir/$parent.cnf" -extensions subca \
		-in "$dir/$name.csr" -out "$dir/$name.pem" 2>/dev/null || {
		echo "# pki_subca $name failed"
		return 1
	}
	echo "# pki: intermediate CA $name by $parent"
}

pki_issue() { # pki_issue DIR CA NAME TYPE SAN [START END]
	local dir=$1 ca=$2 name=$3 t=$4 san=$5 start=${6:-} end=${7:-}
	local -a dates=()
	[ -n "$start" ] && dates=(-startdate "$start" -enddate "$end")
	pki_key "$dir/$name.key" "$t"
	openssl req -new -key "$dir/$name.key" -subj "/O=$PKI_O/CN=$name" \
		-out "$dir/$name.csr" 2>/dev/null
	PKI_SAN=$san openssl ca -batch -notext -config "$dir/$ca.cnf" -extensions leaf \
		"${dates[@]}" -in "$dir/$name.csr" -out "$dir/$name.pem" 2>/dev/null || {
		echo "# pki_issue $name failed"
		return 1
	}
	local shown=$san
	[ ${#san} -gt 60 ] && shown="${san:0:40}... (${#san} characters)"
	echo "# pki: $name ($t, $shown${start:+, $start to $end}) by $ca"
}

# (the configuration names $PKI_SAN, which these commands do not use)
pki_crl() { # pki_crl DIR CA
	PKI_SAN=DNS:unused openssl ca -batch -config "$1/$2.cnf" -gencrl -out "$1/$2.crl" 2>/dev/null
}

pki_revoke() { # pki_revoke DIR CA NAME
	PKI_SAN=DNS:unused openssl ca -batch -config "$1/$2.cnf" -revoke "$1/$3.pem" 2>/dev/null
	pki_crl "$1" "$2"
	echo "# pki: $3 revoked; $2.crl"
}
