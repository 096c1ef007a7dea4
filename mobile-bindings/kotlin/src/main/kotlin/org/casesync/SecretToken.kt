// Handwritten (NOT generated): the Kotlin side of casesync-ffi's `Token` custom type
// (ffi/uniffi.toml maps it here; the generated bindings alias it as `Token`). scripts/check-bindings only compares generated files.
package org.casesync

/**
 * A bearer credential of a [Session] (its access or refresh token).
 *
 * [toString] never shows it, so logging a [Session] (or a crash report holding one)
 * carries no credential; read [value] on purpose, e.g. to store the session encrypted.
 */
class SecretToken(val value: String) {
    override fun toString(): String = "Token(redacted)"

    override fun equals(other: Any?): Boolean = other is SecretToken && other.value == value

    override fun hashCode(): Int = value.hashCode()
}
