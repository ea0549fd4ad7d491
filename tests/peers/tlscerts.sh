#!/bin/sh
# Make the certificates of the TLS tests (tests/55-tls.bats) in DIR with
# the openssl CLI (OpenSSL 3.0 or later).  All keys are ECDSA P-256,
# unencrypted, in FILE.key beside FILE.pem.
#
# usage: tlscerts.sh DIR
#
#   ca.pem        the test CA (the one --tls-ca names)
#   ip.pem        server, signed by ca: SAN IP 127.0.0.1 and ::1, CN 127.0.0.1
#   name.pem      server, signed by ca: SAN DNS localhost, CN localhost
#   wrong.pem     server, signed by ca: SAN DNS wrong.example
#   expired.pem   server, signed by ca: SAN localhost, 127.0.0.1, ::1;
#                 valid 2020-01-01 to 2021-01-01 only
#   self.pem      server, self-signed: SAN localhost, 127.0.0.1, ::1
#   client.pem    client (clientAuth), signed by ca, CN sockkit-client
#   other-ca.pem  a second CA, trusted by no test
#   stranger.pem  client, signed by other-ca, CN stranger
#   *.sha256      each certificate's pin: SHA256:<64 lowercase hex>
set -eu
d=$1
mkdir -p "$d"
cd "$d"

newkey() {
	openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
	    -out "$1.key" 2>/dev/null
}

# ca NAME CN: a self-signed CA certificate.
ca() {
	newkey "$1"
	openssl req -new -x509 -key "$1.key" -out "$1.pem" -days 30 \
	    -subj "/CN=$2" \
	    -addext basicConstraints=critical,CA:TRUE \
	    -addext keyUsage=critical,keyCertSign,cRLSign
}

# leaf NAME CA CN EXTENSIONS: a certificate signed by CA.
leaf() {
	newkey "$1"
	printf '%s\n' "basicConstraints=CA:FALSE" \
	    "keyUsage=critical,digitalSignature" "$4" >"$1.ext"
	openssl req -new -key "$1.key" -subj "/CN=$3" -out "$1.csr"
	openssl x509 -req -in "$1.csr" -CA "$2.pem" -CAkey "$2.key" \
	    -CAcreateserial -days 30 -extfile "$1.ext" -out "$1.pem" 2>/dev/null
	rm -f "$1.csr" "$1.ext"
}

server='extendedKeyUsage=serverAuth'
ca ca 'sockkit test CA'
ca other-ca 'sockkit other CA'
leaf ip ca 127.0.0.1 "$server
subjectAltName=IP:127.0.0.1,IP:::1"
leaf name ca localhost "$server
subjectAltName=DNS:localhost"
leaf wrong ca wrong.example "$server
subjectAltName=DNS:wrong.example"
leaf client ca sockkit-client 'extendedKeyUsage=clientAuth'
leaf stranger other-ca stranger 'extendedKeyUsage=clientAuth'

# self: self-signed, for every name the tests use.
newkey self
openssl req -new -x509 -key self.key -out self.pem -days 30 \
    -subj /CN=localhost \
    -addext subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1

# expired: "openssl x509 -req" cannot backdate in OpenSSL 3.0, "openssl
# ca" can (-startdate/-enddate).
newkey expired
openssl req -new -key expired.key -subj /CN=localhost -out expired.csr
mkdir -p cadb
: >cadb/index.txt
echo 01 >cadb/serial
cat >cadb/ca.cnf <<EOF
[ ca ]
default_ca = testca
[ testca ]
database = cadb/index.txt
serial = cadb/serial
new_certs_dir = cadb
certificate = ca.pem
private_key = ca.key
default_md = sha256
policy = anything
unique_subject = no
copy_extensions = none
x509_extensions = expired_ext
[ anything ]
commonName = supplied
[ expired_ext ]
basicConstraints = CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost,IP:127.0.0.1,IP:::1
EOF
openssl ca -batch -config cadb/ca.cnf -notext -in expired.csr \
    -out expired.pem -startdate 20200101000000Z -enddate 20210101000000Z \
    2>/dev/null
rm -f expired.csr

for c in ca ip name wrong client stranger self expired; do
	fp=$(openssl x509 -in "$c.pem" -noout -fingerprint -sha256)
	fp=${fp#*=}
	printf 'SHA256:%s\n' "$(printf '%s' "$fp" | tr -d : | tr A-F a-f)" \
	    >"$c.sha256"
done
