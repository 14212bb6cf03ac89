# t/lib/pki.sh - a throwaway test PKI, made at test time with openssl.
#
#   pki_make DIR NAME CN SAN DAYS CA-CN
#       DIR/ca.pem and ca.key: a self-signed CA named CA-CN;
#       DIR/other-ca.pem: an unrelated CA (the wrong-CA case);
#       DIR/NAME.pem and NAME.key: a server certificate for CN with
#       subjectAltName SAN (e.g. "IP:127.0.0.1,DNS:localhost"), signed by
#       the CA; valid DAYS days.  EC P-256 keys.  openssl's output goes to
#       DIR/make-ca.log; 1 when anything failed.

pki_make() {
	local dir=$1 name=$2 cn=$3 san=$4 days=$5 ca_cn=$6
	mkdir -p "$dir" || return 1
	(
		set -e
		cd "$dir"
		_ca() {  # _ca NAME CN: a self-signed CA, NAME.pem and NAME.key
			openssl req -x509 -new -newkey ec \
			    -pkeyopt ec_paramgen_curve:P-256 -nodes \
			    -keyout "$1.key" -out "$1.pem" -days "$days" \
			    -subj "/O=nsmilter tests/CN=$2" \
			    -addext "basicConstraints=critical,CA:TRUE" \
			    -addext "keyUsage=critical,keyCertSign,cRLSign"
		}
		_ca ca "$ca_cn"
		_ca other-ca "unrelated test CA"
		openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 \
		    -nodes -keyout "$name.key" -out "$name.csr" \
		    -subj "/O=nsmilter tests/CN=$cn"
		printf '%s\n' "basicConstraints=CA:FALSE" \
		    "keyUsage=critical,digitalSignature,keyEncipherment" \
		    "extendedKeyUsage=serverAuth" \
		    "subjectAltName=$san" >"$name.ext"
		openssl x509 -req -in "$name.csr" -CA ca.pem -CAkey ca.key \
		    -CAcreateserial -days "$days" -extfile "$name.ext" \
		    -out "$name.pem"
		chmod 600 ./*.key
	) >"$dir/make-ca.log" 2>&1
}
