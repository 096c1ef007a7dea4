# casesync ফোনের বার্তা — বাংলা।
#
# One message per error code (`case.closed` -> `case-closed`), formatted by
# CasesyncMessages.format. Only plain text and { $param } placeables, one line each.
# stage-* and role-* label the `from`, `to` and `role` parameters: the same words as
# server/locales/<lang>/terms.ftl and main.ftl (a test compares them).

case-corrupt = এই ফোনের একটি কেস নষ্ট হয়ে গেছে, পড়া যাচ্ছে না।
case-over_limit = কেসটি খোলার জন্য খুব বড় (সীমা { $limit })।
case-malformed = ফোনের একটি কেস অসম্পূর্ণ: { $field } নেই।
case-unsupported_schema = কেসটি অ্যাপের নতুন সংস্করণে সংরক্ষিত। খুলতে অ্যাপটি আপডেট করুন।
case-invalid = { $field }: এই মান গ্রহণযোগ্য নয়।
case-too_large = { $field } খুব লম্বা বা এতে অনেক বেশি তথ্য (সীমা { $limit })।
case-not_found = পাওয়া যায়নি: { $kind } { $id }।
case-forbidden = আপনার ভূমিকা ({ $role }) এটি করতে পারে না।
case-stage_not_allowed = কেসটি এখনো { $from } থেকে { $to } ধাপে নেওয়া যাবে না।
case-closed = এই কেসটি বন্ধ। একজন সমন্বয়কারী এটি আবার খুলতে পারেন।
case-referral_needs_consent = নিবন্ধিত সংস্থায় রেফার করতে ক্লায়েন্টের তথ্য শেয়ার করার সম্মতি লাগবে। আগে ইনটেকে সম্মতি লিখুন।
case-referral_needs_sensitive_consent = এই কেসটি গোপনীয়। ক্লায়েন্ট এই সংস্থার সাথে তথ্য শেয়ার করতে রাজি কি না জিজ্ঞেস করুন এবং রেফারেলে তাঁর সম্মতি লিখুন।
case-no_conflict = { $path }-এ ওই মান দিয়ে মেটানোর মতো কোনো দ্বন্দ্ব নেই।
case-operation_failed = পরিবর্তনটি সংরক্ষণ করা যায়নি। আবার চেষ্টা করুন।

store-wrong_key = এই ফোনের তথ্য খোলা যায়নি: চাবিটি ভুল।
store-corrupt = কেস { $case_id }-এর সংরক্ষিত কপি নষ্ট হয়ে গেছে।
store-corrupt_meta = ফোনের তথ্য নষ্ট হয়ে গেছে ({ $record })।
store-case_not_found = কেস { $case_id } এই ফোনে নেই।
store-failure = ফোনের স্টোরেজে সমস্যা হয়েছে। কিছু জায়গা খালি করে আবার চেষ্টা করুন।

sync-bad_response = সার্ভারের উত্তর পড়া যায়নি। পরে আবার চেষ্টা করুন।
sync-bad_document = সার্ভার কেস { $case_id } এমনভাবে পাঠিয়েছে যা এই অ্যাপ ব্যবহার করতে পারে না। অ্যাপটি আপডেট করুন।
sync-out_of_order = এই ফোনে সিঙ্ক ঠিকমতো হয়নি। আবার চেষ্টা করুন।
sync-too_many_round_trips = সিঙ্ক শেষ হয়নি। আবার চেষ্টা করুন।
sync-already_running = সিঙ্ক আগে থেকেই চলছে।
sync-cancelled = বাতিল হয়েছে। এ পর্যন্ত যা এসেছে সব সংরক্ষিত।

auth-wrong_password = ব্যবহারকারীর নাম বা পাসওয়ার্ড ভুল।
auth-sign_in_again = পাসওয়ার্ড দিয়ে আবার লগ ইন করুন। আপনার কাজ এই ফোনে সংরক্ষিত আছে, লগ ইন করার পর পাঠানো হবে।
auth-session_expired = আপনার সেশনের মেয়াদ শেষ। আবার লগ ইন করুন।
auth-not_logged_in = আগে লগ ইন করুন।
auth-rate_limited = অনেকবার চেষ্টা হয়েছে। কয়েক মিনিট অপেক্ষা করে আবার চেষ্টা করুন।
auth-device_revoked = এই ফোনটি কর্মসূচি থেকে সরানো হয়েছে এবং এর কেসের তথ্য মুছে ফেলা হয়েছে। না-পাঠানো পরিবর্তন হারিয়েছে: { $unsent_changes }টি ({ $unsent_cases }টি কেসে)। আপনার সমন্বয়কারীর সাথে যোগাযোগ করুন।
auth-password_change_required = আপনার পাসওয়ার্ড রিসেট করা হয়েছে। সাইন ইন করতে একটি নতুন পাসওয়ার্ড বেছে নিন।
auth-password_rules = কমপক্ষে { $min_chars } অক্ষরের একটি নতুন পাসওয়ার্ড বেছে নিন, যা পুরোনোটির থেকে আলাদা।

server-forbidden = আপনার এটি করার অনুমতি নেই।
server-not_found = সার্ভারে পাওয়া যায়নি।
server-refused = সার্ভার অনুরোধটি সম্পন্ন করতে পারেনি ({ $status })। পরে আবার চেষ্টা করুন।
server-bad_answer = সার্ভারের উত্তর এই অ্যাপ ব্যবহার করতে পারে না। অ্যাপটি আপডেট করুন বা পরে চেষ্টা করুন।

network-unreachable = সার্ভারের সাথে সংযোগ নেই। আপনার কাজ এই ফোনে সংরক্ষিত আছে, পরের সিঙ্কে পাঠানো হবে।
network-insecure_http = সার্ভারের ঠিকানা নিরাপদ নয় (http://); কিছুই পাঠানো হয়নি। আপনার সমন্বয়কারীর কাছে https:// ঠিকানা চান।
network-untrusted_certificate = এই ফোন সার্ভারের সার্টিফিকেটে আস্থা রাখে না; কিছুই পাঠানো হয়নি। আপনার সমন্বয়কারীর সাথে যোগাযোগ করুন।
network-tls_setup = অ্যাপের নিরাপদ সংযোগের সেটিংস ব্যবহারযোগ্য নয়। আপনার সমন্বয়কারীর সাথে যোগাযোগ করুন।

input-bad_key = স্টোরের চাবি ৩২ বাইটের হতে হবে।
input-empty_device_id = ডিভাইসের আইডি খালি।
input-not_json = { $field } সঠিক মান নয়।
input-bad_date = { $field }: “{ $value }” তারিখ নয় (YYYY-MM-DD লিখুন)।

stage-intake = গ্রহণ
stage-assessment = মূল্যায়ন
stage-planning = পরিকল্পনা
stage-implementation = বাস্তবায়ন
stage-monitoring = পর্যবেক্ষণ
stage-closed = বন্ধ

role-chw = স্বাস্থ্যকর্মী
role-coordinator = সমন্বয়কারী
role-admin = প্রশাসক
role-agency = সংস্থার কর্মী
