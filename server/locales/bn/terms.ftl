# কেসের স্থির মানের নাম এবং টাইমলাইনের সারাংশ — বাংলা।

stage-intake = গ্রহণ
stage-assessment = মূল্যায়ন
stage-planning = পরিকল্পনা
stage-implementation = বাস্তবায়ন
stage-monitoring = পর্যবেক্ষণ
stage-closed = বন্ধ

sex-female = নারী
sex-male = পুরুষ
sex-other = অন্যান্য
sex-unknown = জানা নেই

visit-home = বাড়িতে পরিদর্শন
visit-phone = ফোন কল
visit-facility = কেন্দ্রে পরিদর্শন

goal-active = চলমান
goal-achieved = অর্জিত
goal-dropped = বাদ দেওয়া

service-health = স্বাস্থ্য
service-psychosocial = মনোসামাজিক সহায়তা
service-legal = আইনি সহায়তা
service-housing = বাসস্থান
service-education = শিক্ষা
service-livelihood = জীবিকা
service-other = অন্য সেবা

referral-made = পাঠানো হয়েছে
referral-accepted = গৃহীত
referral-completed = সম্পন্ন
referral-declined = প্রত্যাখ্যাত

reason-goals_achieved = লক্ষ্য অর্জিত
reason-transferred = স্থানান্তরিত
reason-moved = অন্যত্র চলে গেছেন
reason-deceased = মৃত
reason-withdrew = নিজে সরে গেছেন
reason-lost_to_follow_up = যোগাযোগ হারিয়েছে

source-agency_referral = সংস্থার রেফারেল
source-self = নিজে এসেছেন
source-family = পরিবার এনেছে
source-field_survey = মাঠ জরিপে পাওয়া

risk-low = কম ঝুঁকি
risk-medium = মাঝারি ঝুঁকি
risk-high = উচ্চ ঝুঁকি

role-chw = স্বাস্থ্যকর্মী
role-coordinator = সমন্বয়কারী
role-admin = প্রশাসক

summary-case-created = কেস খুলেছেন
summary-case-imported = কেস আমদানি করেছেন
summary-schema-migrated = রেকর্ডের ধরন হালনাগাদ করেছেন
summary-client-updated = ক্লায়েন্টের তথ্য হালনাগাদ করেছেন
summary-household-member-added = পরিবারের সদস্য যোগ করেছেন
summary-household-member-removed = পরিবারের সদস্য বাদ দিয়েছেন
summary-intake-recorded = গ্রহণের তথ্য লিখেছেন
summary-consent-recorded = সম্মতি লিখেছেন
summary-assessment-updated = মূল্যায়ন হালনাগাদ করেছেন
summary-goal-added = লক্ষ্য যোগ করেছেন
summary-goal-updated = লক্ষ্য হালনাগাদ করেছেন
summary-plan-review-date-set = পরিকল্পনা পর্যালোচনার তারিখ ঠিক করেছেন
summary-referral-made = রেফারেল পাঠিয়েছেন
summary-referral-updated = রেফারেল হালনাগাদ করেছেন
summary-visit-recorded = পরিদর্শন লিখেছেন
summary-visit-updated = পরিদর্শন হালনাগাদ করেছেন
summary-stage = কেসটি { $from } থেকে { $to } ধাপে নিয়েছেন
summary-case-reopened = কেস আবার খুলেছেন
summary-activity-after-closure-reviewed = বন্ধের পরের কাজ পর্যালোচনা করেছেন
summary-case-evaluated = কেস মূল্যায়ন করেছেন
summary-case-reassigned = কেস অন্য কর্মীকে দিয়েছেন
summary-sensitivity-changed = কেসের গোপনীয়তা বদলেছেন
summary-district-changed = কেস অন্য জেলায় সরিয়েছেন
summary-village-changed = গ্রাম বদলেছেন
summary-conflict-resolved = { $path } ঘরের পরস্পরবিরোধী সম্পাদনা মিটিয়েছেন
summary-case-closed = কেস বন্ধ করেছেন: { $reason }
summary-assessment-extra-set = মূল্যায়নের একটি ঘর হালনাগাদ করেছেন
