# ชื่อค่าคงที่ของเคสและสรุปในลำดับเหตุการณ์ — ภาษาไทย

stage-intake = รับเคส
stage-assessment = ประเมิน
stage-planning = วางแผน
stage-implementation = ดำเนินการ
stage-monitoring = ติดตามผล
stage-closed = ปิดแล้ว

sex-female = หญิง
sex-male = ชาย
sex-other = อื่น ๆ
sex-unknown = ไม่ทราบ

visit-home = เยี่ยมบ้าน
visit-phone = โทรศัพท์
visit-facility = พบที่หน่วยบริการ

goal-active = กำลังดำเนินการ
goal-achieved = บรรลุแล้ว
goal-dropped = ยกเลิก

service-health = สุขภาพ
service-psychosocial = การดูแลด้านจิตสังคม
service-legal = ความช่วยเหลือทางกฎหมาย
service-housing = ที่อยู่อาศัย
service-education = การศึกษา
service-livelihood = อาชีพ
service-other = บริการอื่น

referral-made = ส่งต่อแล้ว
referral-accepted = รับแล้ว
referral-completed = เสร็จสิ้น
referral-declined = ถูกปฏิเสธ

reason-goals_achieved = บรรลุเป้าหมาย
reason-transferred = ส่งต่อไปที่อื่น
reason-moved = ย้ายออก
reason-deceased = เสียชีวิต
reason-withdrew = ขอถอนตัว
reason-lost_to_follow_up = ติดต่อไม่ได้

source-agency_referral = หน่วยงานส่งต่อมา
source-self = มาเอง
source-family = ครอบครัวพามา
source-field_survey = พบจากการสำรวจภาคสนาม

risk-low = ความเสี่ยงต่ำ
risk-medium = ความเสี่ยงปานกลาง
risk-high = ความเสี่ยงสูง

role-chw = อาสาสมัคร
role-coordinator = ผู้ประสานงาน
role-admin = ผู้ดูแลระบบ

summary-case-created = สร้างเคส
summary-case-imported = นำเข้าเคส
summary-schema-migrated = ปรับรูปแบบบันทึก
summary-client-updated = แก้ไขข้อมูลผู้รับบริการ
summary-household-member-added = เพิ่มสมาชิกครัวเรือน
summary-household-member-removed = ลบสมาชิกครัวเรือน
summary-intake-recorded = บันทึกการรับเคส
summary-consent-recorded = บันทึกความยินยอม
summary-assessment-updated = แก้ไขการประเมิน
summary-goal-added = เพิ่มเป้าหมาย
summary-goal-updated = แก้ไขเป้าหมาย
summary-plan-review-date-set = กำหนดวันทบทวนแผน
summary-referral-made = ส่งต่อ
summary-referral-updated = แก้ไขการส่งต่อ
summary-visit-recorded = บันทึกการเยี่ยม
summary-visit-updated = แก้ไขการเยี่ยม
summary-stage = ย้ายเคสจาก { $from } ไป { $to }
summary-case-reopened = เปิดเคสอีกครั้ง
summary-activity-after-closure-reviewed = ตรวจทานกิจกรรมหลังปิดเคส
summary-case-evaluated = ประเมินผลเคส
summary-case-reassigned = มอบหมายเคสใหม่
summary-sensitivity-changed = เปลี่ยนระดับความอ่อนไหวของเคส
summary-district-changed = ย้ายเคสไปอำเภออื่น
summary-village-changed = เปลี่ยนหมู่บ้าน
summary-conflict-resolved = แก้การแก้ไขที่ขัดกันของ { $path }
summary-case-closed = ปิดเคส: { $reason }
summary-assessment-extra-set = แก้ไขช่องหนึ่งของการประเมิน
