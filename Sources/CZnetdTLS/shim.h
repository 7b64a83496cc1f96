#pragma once
// OpenSSL's headers (Debian's libssl-dev) for their types and constants. znetd does not link
// libssl: ZnetdHTTP loads it with dlopen when a TLS listener is configured
// (OpenSSLLibrary.swift). So nothing here may call an OpenSSL function. No logic.
#include <openssl/ssl.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

/// SSL_OP_* are built with SSL_OP_BIT(), a macro Swift cannot import.
static inline uint64_t znetd_tls_server_options(void) {
    return SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_RENEGOTIATION;
}
