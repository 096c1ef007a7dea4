# نام مقدارهای ثابت پرونده و خلاصه‌های تاریخچه — فارسی.

stage-intake = پذیرش
stage-assessment = ارزیابی
stage-planning = برنامه‌ریزی
stage-implementation = اجرا
stage-monitoring = پایش
stage-closed = بسته

sex-female = زن
sex-male = مرد
sex-other = دیگر
sex-unknown = نامعلوم

visit-home = ملاقات در خانه
visit-phone = تماس تلفنی
visit-facility = ملاقات در مرکز

goal-active = در جریان
goal-achieved = محقق‌شده
goal-dropped = کنارگذاشته

service-health = سلامت
service-psychosocial = حمایت روانی‌اجتماعی
service-legal = کمک حقوقی
service-housing = مسکن
service-education = آموزش
service-livelihood = معیشت
service-other = خدمت دیگر

referral-made = فرستاده‌شده
referral-accepted = پذیرفته‌شده
referral-completed = انجام‌شده
referral-declined = ردشده

reason-goals_achieved = اهداف محقق شد
reason-transferred = منتقل شد
reason-moved = نقل مکان کرد
reason-deceased = درگذشت
reason-withdrew = انصراف داد
reason-lost_to_follow_up = ارتباط قطع شد

source-agency_referral = ارجاع از یک سازمان
source-self = خودش آمد
source-family = خانواده آورد
source-field_survey = در پیمایش میدانی پیدا شد

risk-low = خطر کم
risk-medium = خطر متوسط
risk-high = خطر زیاد

role-chw = مددکار سلامت
role-coordinator = هماهنگ‌کننده
role-admin = مدیر

summary-case-created = پرونده را ساخت
summary-case-imported = پرونده را وارد کرد
summary-schema-migrated = قالب پرونده را به‌روز کرد
summary-client-updated = مشخصات مراجع را به‌روز کرد
summary-household-member-added = عضو خانوار افزود
summary-household-member-removed = عضو خانوار را حذف کرد
summary-intake-recorded = پذیرش را ثبت کرد
summary-consent-recorded = رضایت را ثبت کرد
summary-assessment-updated = ارزیابی را به‌روز کرد
summary-goal-added = هدفی افزود
summary-goal-updated = هدفی را به‌روز کرد
summary-plan-review-date-set = تاریخ بازبینی برنامه را تعیین کرد
summary-referral-made = ارجاع داد
summary-referral-updated = ارجاعی را به‌روز کرد
summary-visit-recorded = ملاقاتی ثبت کرد
summary-visit-updated = ملاقاتی را به‌روز کرد
summary-stage = پرونده را از { $from } به { $to } برد
summary-case-reopened = پرونده را دوباره باز کرد
summary-activity-after-closure-reviewed = فعالیت پس از بستن را بازبینی کرد
summary-case-evaluated = پرونده را ارزیابی نهایی کرد
summary-case-reassigned = پرونده را به دیگری واگذار کرد
summary-sensitivity-changed = حساسیت پرونده را تغییر داد
summary-district-changed = پرونده را به منطقهٔ دیگری برد
summary-village-changed = روستا را تغییر داد
summary-conflict-resolved = ویرایش‌های متعارض { $path } را حل کرد
summary-case-closed = پرونده را بست: { $reason }
summary-assessment-extra-set = یک خانهٔ ارزیابی را به‌روز کرد
