#!/bin/sh
# Makes loopback.pcap + loopback.keylog: one TLS connection per cipher suite configuration,
# openssl s_server -www and s_client on 127.0.0.1, captured with dumpcap on lo.
# The client port is 40000 + N (N = line number below); the server port 44000 + N.
# Needs: openssl 3, dumpcap, a key/cert pair (key.pem, cert.pem) and dh.pem in the cwd.
set -e
rm -f loopback.keylog loopback.pcap sess*.pem
dumpcap -i lo -f "tcp portrange 44000-44099" -w loopback.pcap -q 2>/dev/null &
DUMP=$!
sleep 2
n=0
# name | server options | client options | request path
run() {
  n=$((n+1)); port=$((44000+n))
  openssl s_server -quiet -www -accept $port -cert cert.pem -key key.pem -dhparam dh.pem $2 >/dev/null 2>&1 &
  SRV=$!
  sleep 0.5
  printf 'GET /%s?device_id=ph-%s HTTP/1.1\r\nHost: phonehome.test\r\nX-Suite: %s\r\n\r\n' "$1" "$n" "$1" |
    openssl s_client -quiet -ign_eof -connect 127.0.0.1:$port -bind 127.0.0.1:$((40000+n)) -keylogfile loopback.keylog $3 >/dev/null 2>&1 || true
  kill $SRV 2>/dev/null || true
  wait $SRV 2>/dev/null || true
}
L0='-cipher ALL:@SECLEVEL=0'
run tls12-aes128-gcm-rsa        "$L0" "-tls1_2 -cipher AES128-GCM-SHA256"
run tls12-ecdhe-aes256-gcm      "$L0" "-tls1_2 -cipher ECDHE-RSA-AES256-GCM-SHA384"
run tls12-aes128-sha-etm        "$L0" "-tls1_2 -cipher AES128-SHA"
run tls12-aes128-sha-mte        "$L0" "-tls1_2 -cipher AES128-SHA -no_etm"
run tls12-aes256-sha256-mte     "$L0" "-tls1_2 -cipher AES256-SHA256 -no_etm"
run tls12-ecdhe-aes256-sha384   "$L0" "-tls1_2 -cipher ECDHE-RSA-AES256-SHA384 -no_etm"
run tls12-dhe-aes128-sha256-etm "$L0" "-tls1_2 -cipher DHE-RSA-AES128-SHA256"
run tls12-ecdhe-chacha20        "$L0" "-tls1_2 -cipher ECDHE-RSA-CHACHA20-POLY1305"
run tls12-aes128-ccm            "$L0" "-tls1_2 -cipher AES128-CCM"
run tls12-aes256-ccm8           "$L0" "-tls1_2 -cipher AES256-CCM8"
run tls11-aes256-sha            "$L0" "-tls1_1 -cipher AES256-SHA:@SECLEVEL=0 -no_etm"
run tls10-aes128-sha            "$L0" "-tls1 -cipher AES128-SHA:@SECLEVEL=0 -no_etm"
run tls13-aes128-ccm            "$L0 -ciphersuites TLS_AES_128_CCM_SHA256" "-tls1_3 -ciphersuites TLS_AES_128_CCM_SHA256"
run tls13-aes128-ccm8           "$L0 -ciphersuites TLS_AES_128_CCM_8_SHA256" "-tls1_3 -ciphersuites TLS_AES_128_CCM_8_SHA256"
run tls13-aes256-gcm            "$L0" "-tls1_3 -ciphersuites TLS_AES_256_GCM_SHA384"
# Resumption: one server, a full handshake saving the session, then an abbreviated one
# resuming it (by ticket, then with tickets off by session id). Ports N and N+1.
client() {
  printf 'GET /%s?device_id=ph-%s HTTP/1.1\r\nHost: phonehome.test\r\n\r\n' "$1" "$2" |
    openssl s_client -quiet -ign_eof -connect 127.0.0.1:$3 -bind 127.0.0.1:$((40000+$2)) -keylogfile loopback.keylog $4 >/dev/null 2>&1 || true
}
resume() {
  n=$((n+1)); port=$((44000+n))
  openssl s_server -quiet -www -accept $port -cert cert.pem -key key.pem $2 >/dev/null 2>&1 &
  SRV=$!
  sleep 0.5
  client "$1-full" $n $port "$3 -sess_out sess$n.pem"
  n=$((n+1))
  client "$1-resumed" $n $port "$3 -sess_in sess$((n-1)).pem"
  kill $SRV 2>/dev/null || true
  wait $SRV 2>/dev/null || true
}
resume tls12-ticket "$L0" "-tls1_2 -cipher ECDHE-RSA-AES128-GCM-SHA256"
resume tls12-sessid "$L0 -no_ticket" "-tls1_2 -cipher AES256-SHA"
sleep 1
kill -INT $DUMP
wait $DUMP || true
