// possibleDuplicates on the phone, offline: a registration in Latin letters finds the
// Bengali and Thai cases it repeats (same phone typed another way), Persian written with
// Arabic letters finds its case through the mother's name, Vietnamese without diacritics
// finds its case, a common name with another phone finds nothing, an existing case lists
// its second registration (never itself), and an edit is seen at the next check.
package org.casesync.test

import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertTrue
import org.casesync.*
import org.casesync.core.*

lateinit var dedupPhone: Device

suspend fun register(s: AsyncCaseStore, id: String, name: String, village: String, update: ClientUpdate) {
    s.createCase(NewCase(id, DISTRICT, village, s.session()!!.userId, false, name))
    s.updateClient(id, update)
}

fun ids(found: List<PossibleDuplicate>): List<String> = found.map { it.summary.id }

val duplicateTests = linkedMapOf<String, suspend () -> Unit>(
    "possibleDuplicates: a registration in another script, with the phone typed another way, finds its case offline" to {
        dedupPhone = Device.open(server, "amina-dedup", "amina")
        val s = dedupPhone.store
        register(s, "dup-bn-1", "করিম বেগম", "শ্যামনগর", ClientUpdate(sex = Sex.MALE, ageEstimate = 19u, phone = "+8801927491097"))
        register(s, "dup-bn-2", "করিম বেগম", "শ্যামনগর", ClientUpdate(sex = Sex.MALE, ageEstimate = 60u, phone = "+8801811111111"))
        register(s, "dup-fa-1", "زهرا حسینی", "کوی نصر", ClientUpdate(sex = Sex.FEMALE, ageEstimate = 30u, phone = "+989121234567"))
        s.addHouseholdMember("dup-fa-1", "فاطمه رضایی", "mother")
        register(s, "dup-th-1", "สมชาย จันทร์เพ็ญ", "บ้านโคกสูง", ClientUpdate(sex = Sex.MALE, ageEstimate = 54u, phone = "+66895593489"))
        register(s, "dup-vi-1", "Nguyễn Thị Hương", "Phú Mỹ", ClientUpdate(sex = Sex.FEMALE, ageEstimate = 40u))

        val karim = s.possibleDuplicates(RegistrationQuery("Karim Begum", phone = "01927-491097", ageEstimate = 20u, village = "শ্যামনগর"))
        assertEquals(listOf("dup-bn-1"), ids(karim), "$karim") // the other করিম বেগম (60, another phone) is not listed
        assertTrue(MatchReason.SamePhone in karim[0].reasons, "${karim[0].reasons}")
        assertTrue(MatchReason.NameInAnotherScript in karim[0].reasons, "${karim[0].reasons}")
        assertEquals("করিম বেগম", karim[0].summary.name)

        val somchai = s.possibleDuplicates(RegistrationQuery("Somchai Chanphen", phone = "๐๘๙-๕๕๙-๓๔๘๙", ageEstimate = 54u))
        assertEquals(listOf("dup-th-1"), ids(somchai), "$somchai")
    },

    "possibleDuplicates: Persian in Arabic letters through the mother's name, Vietnamese without diacritics, a stranger finds nothing" to {
        val s = dedupPhone.store
        val zahra = s.possibleDuplicates(RegistrationQuery("زهرا حسيني", ageEstimate = 31u, village = "کوی نصر",
            household = listOf(HouseholdMemberInput("فاطمه رضايي", "mother"))))
        assertEquals(listOf("dup-fa-1"), ids(zahra), "$zahra")
        assertTrue(MatchReason.SameHouseholdMember("mother") in zahra[0].reasons, "${zahra[0].reasons}")

        val huong = s.possibleDuplicates(RegistrationQuery("Nguyen Thi Huong", sex = Sex.FEMALE, ageEstimate = 40u, village = "Phu My"))
        assertEquals(listOf("dup-vi-1"), ids(huong), "$huong")
        assertTrue(MatchReason.SameName in huong[0].reasons)

        assertEquals(emptyList(), s.possibleDuplicates(RegistrationQuery("Anwar Sarker", phone = "+8801894570081", ageEstimate = 65u)))
        assertEquals(emptyList(), s.possibleDuplicates(RegistrationQuery("")))
    },

    "possibleDuplicatesOfCase: an existing case lists its second registration, never itself; edits are seen at the next check" to {
        val s = dedupPhone.store
        register(s, "dup-th-2", "Somchai Chanphen", "โคกสูง", ClientUpdate(sex = Sex.MALE, ageEstimate = 55u, phone = "0895593489"))
        assertEquals(listOf("dup-th-1"), ids(s.possibleDuplicatesOfCase("dup-th-2")))
        assertEquals(listOf("dup-th-2"), ids(s.possibleDuplicatesOfCase("dup-th-1")))
        assertFailsWith<CasesyncException.NotFound> { s.possibleDuplicatesOfCase("no-such-case") }

        // The Vietnamese client's name corrected to someone else: no longer listed.
        s.updateClient("dup-vi-1", ClientUpdate(name = "Trần Văn Bảo", sex = Sex.MALE))
        assertEquals(emptyList(), s.possibleDuplicates(RegistrationQuery("Nguyen Thi Huong", sex = Sex.FEMALE, ageEstimate = 40u, village = "Phu My")))
        // The second করিম বেগম gets the first one's phone and age: now both are listed.
        s.updateClient("dup-bn-2", ClientUpdate(ageEstimate = 19u, phone = "+8801927491097"))
        val karim = s.possibleDuplicates(RegistrationQuery("Karim Begum", phone = "01927-491097", ageEstimate = 20u, village = "শ্যামনগর"))
        assertEquals(setOf("dup-bn-1", "dup-bn-2"), ids(karim).toSet(), "$karim")
        dedupPhone.store.close()
    },
)
