// Handwritten (not generated): formats a CasesyncException in the worker's language from
// the catalogues shipped in resources/casesync/messages/<lang>.ftl (en, bn, fa, th, vi).
package org.casesync

import java.util.Locale
import java.util.concurrent.ConcurrentHashMap

/** The stable code, named parameters and English text (for logs) of any [CasesyncException]. */
val CasesyncException.errorDetail: ErrorDetail
    get() = when (this) {
        is CasesyncException.WrongKey -> detail
        is CasesyncException.NotFound -> detail
        is CasesyncException.Invalid -> detail
        is CasesyncException.Forbidden -> detail
        is CasesyncException.Closed -> detail
        is CasesyncException.Conflict -> detail
        is CasesyncException.Network -> detail
        is CasesyncException.Unauthorized -> detail
        is CasesyncException.RateLimited -> detail
        is CasesyncException.DeviceRevoked -> detail
        is CasesyncException.Insecure -> detail
        is CasesyncException.Busy -> detail
        is CasesyncException.Server -> detail
        is CasesyncException.Storage -> detail
        is CasesyncException.Cancelled -> detail
    }

/**
 * The phone's messages: `CasesyncMessages.format(error, locale)` is the sentence to show
 * the worker. The catalogues are Fluent files restricted to one-line messages with
 * `{ $param }` placeables (casesync-ffi's `tests/catalogues.rs` enforces the subset and
 * that every error code has a message in all five). Parameters `from`/`to` (stages) and
 * `role` are shown by their catalogue labels (`stage-intake`, `role-chw`); numbers in
 * Bengali or Persian digits for `bn`/`fa`; every parameter is bidi-isolated (U+2068 ..
 * U+2069) as Fluent does, so a Latin id reads correctly inside Farsi text.
 */
object CasesyncMessages {
    /** The languages shipped; any other locale gets English. */
    val LANGUAGES: List<String> = listOf("en", "bn", "fa", "th", "vi")

    private val LABELLED = mapOf("from" to "stage", "to" to "stage", "role" to "role")
    private val PLACEABLE = Regex("""\{\s*\$([A-Za-z][A-Za-z0-9_-]*)\s*\}""")
    private val ZERO = mapOf("bn" to '\u09E6', "fa" to '\u06F0')
    private val cache = ConcurrentHashMap<String, Map<String, String>>()

    /** The message of [error] in [locale]'s language (English when not shipped). */
    fun format(error: CasesyncException, locale: Locale): String = format(error.errorDetail, locale)

    /** The message of [detail] in [locale]'s language; its English text if no catalogue has the code. */
    fun format(detail: ErrorDetail, locale: Locale): String {
        val lang = language(locale)
        val id = detail.code.replace('.', '-')
        val cat = catalogue(lang)
        val pattern = cat[id] ?: catalogue("en")[id] ?: return detail.english
        return PLACEABLE.replace(pattern) { m ->
            val name = m.groupValues[1]
            val value = detail.params[name]
            if (value == null) {
                "{\$$name}" // as Fluent shows a missing variable
            } else {
                val shown = LABELLED[name]?.let { cat["$it-$value"] } ?: digits(value, lang)
                "\u2068$shown\u2069"
            }
        }
    }

    /** The shipped language for [locale] (`bn-BD` -> `bn`, `de` -> `en`). */
    fun language(locale: Locale): String = locale.language.takeIf { it in LANGUAGES } ?: "en"

    /** Message id -> pattern of one shipped catalogue, read once from the resources. */
    fun catalogue(lang: String): Map<String, String> = cache.getOrPut(lang) {
        val path = "/casesync/messages/$lang.ftl"
        val stream = CasesyncMessages::class.java.getResourceAsStream(path)
            ?: throw IllegalStateException("catalogue $path is not on the classpath")
        parse(stream.use { it.readBytes().toString(Charsets.UTF_8) }, path)
    }

    private fun parse(text: String, path: String): Map<String, String> {
        val out = LinkedHashMap<String, String>()
        for (line in text.lines()) {
            if (line.isBlank() || line.startsWith("#")) continue
            val eq = line.indexOf(" = ")
            check(eq > 0 && !line[0].isWhitespace()) { "$path: not a one-line message: $line" }
            out[line.substring(0, eq)] = line.substring(eq + 3)
        }
        return out
    }

    private fun digits(value: String, lang: String): String {
        val zero = ZERO[lang] ?: return value
        if (value.isEmpty() || !value.all { it in '0'..'9' }) return value
        return value.map { zero + (it - '0') }.joinToString("")
    }
}
