# ข้อความในโทรศัพท์ของ casesync — ภาษาไทย
#
# One message per error code (`case.closed` -> `case-closed`), formatted by
# CasesyncMessages.format. Only plain text and { $param } placeables, one line each.
# stage-* and role-* label the `from`, `to` and `role` parameters: the same words as
# server/locales/<lang>/terms.ftl and main.ftl (a test compares them).

case-corrupt = เคสหนึ่งในโทรศัพท์นี้เสียหาย อ่านไม่ได้
case-over_limit = เคสนี้ใหญ่เกินกว่าจะเปิดได้ (จำกัด { $limit })
case-malformed = เคสหนึ่งในโทรศัพท์ไม่สมบูรณ์: ไม่มี { $field }
case-unsupported_schema = เคสนี้บันทึกด้วยแอปรุ่นใหม่กว่า โปรดอัปเดตแอปเพื่อเปิด
case-invalid = { $field }: ค่านี้ใช้ไม่ได้
case-too_large = { $field } ยาวเกินไปหรือมีรายการมากเกินไป (จำกัด { $limit })
case-not_found = ไม่พบ: { $kind } { $id }
case-forbidden = บทบาทของคุณ ({ $role }) ทำสิ่งนี้ไม่ได้
case-stage_not_allowed = ยังย้ายเคสจาก { $from } ไป { $to } ไม่ได้
case-closed = เคสนี้ปิดแล้ว ผู้ประสานงานเปิดใหม่ได้
case-referral_needs_consent = การส่งต่อไปยังหน่วยงานที่ลงทะเบียนต้องได้รับความยินยอมจากผู้รับบริการในการแบ่งปันข้อมูล โปรดบันทึกความยินยอมในขั้นรับเข้าก่อน
case-referral_needs_sensitive_consent = กรณีนี้เป็นความลับ โปรดถามผู้รับบริการว่ายินยอมให้แบ่งปันกับหน่วยงานนี้หรือไม่ และบันทึกความยินยอมไว้ในการส่งต่อ
case-no_conflict = ไม่มีข้อขัดแย้งที่ { $path } ให้แก้ด้วยค่านี้
case-operation_failed = บันทึกการเปลี่ยนแปลงไม่ได้ ลองอีกครั้ง

store-wrong_key = เปิดข้อมูลในโทรศัพท์นี้ไม่ได้: กุญแจไม่ถูกต้อง
store-corrupt = สำเนาที่บันทึกของเคส { $case_id } เสียหาย
store-corrupt_meta = ข้อมูลในโทรศัพท์เสียหาย ({ $record })
store-case_not_found = ไม่มีเคส { $case_id } ในโทรศัพท์นี้
store-failure = ที่เก็บข้อมูลของโทรศัพท์มีปัญหา ลบข้อมูลบางส่วนแล้วลองอีกครั้ง

sync-bad_response = อ่านคำตอบของเซิร์ฟเวอร์ไม่ได้ ลองใหม่ภายหลัง
sync-bad_document = เซิร์ฟเวอร์ส่งเคส { $case_id } ในรูปแบบที่แอปนี้ใช้ไม่ได้ โปรดอัปเดตแอป
sync-out_of_order = การซิงค์ในโทรศัพท์นี้ผิดพลาด ลองอีกครั้ง
sync-too_many_round_trips = การซิงค์ไม่เสร็จ ลองอีกครั้ง
sync-already_running = กำลังซิงค์อยู่แล้ว
sync-cancelled = ยกเลิกแล้ว ข้อมูลที่ได้รับแล้วถูกบันทึกไว้

auth-wrong_password = ชื่อผู้ใช้หรือรหัสผ่านไม่ถูกต้อง
auth-sign_in_again = โปรดเข้าสู่ระบบอีกครั้งด้วยรหัสผ่าน งานของคุณบันทึกไว้ในโทรศัพท์นี้และจะส่งหลังเข้าสู่ระบบ
auth-session_expired = เซสชันหมดอายุ โปรดเข้าสู่ระบบอีกครั้ง
auth-not_logged_in = โปรดเข้าสู่ระบบก่อน
auth-rate_limited = ลองหลายครั้งเกินไป รอสักครู่แล้วลองใหม่
auth-device_revoked = โทรศัพท์นี้ถูกนำออกจากโครงการและข้อมูลเคสถูกลบแล้ว การเปลี่ยนแปลงที่ยังไม่ได้ส่งที่สูญหาย: { $unsent_changes } (ใน { $unsent_cases } เคส) โปรดติดต่อผู้ประสานงาน
auth-password_change_required = รหัสผ่านของคุณถูกรีเซ็ตแล้ว โปรดตั้งรหัสผ่านใหม่เพื่อเข้าสู่ระบบ
auth-password_rules = โปรดตั้งรหัสผ่านใหม่อย่างน้อย { $min_chars } ตัวอักษร และต้องไม่ซ้ำกับรหัสผ่านเดิม

server-forbidden = คุณไม่มีสิทธิ์ทำสิ่งนี้
server-not_found = ไม่พบในเซิร์ฟเวอร์
server-refused = เซิร์ฟเวอร์ดำเนินการไม่สำเร็จ ({ $status }) ลองใหม่ภายหลัง
server-bad_answer = แอปนี้ใช้คำตอบของเซิร์ฟเวอร์ไม่ได้ โปรดอัปเดตแอปหรือลองใหม่ภายหลัง

network-unreachable = เชื่อมต่อเซิร์ฟเวอร์ไม่ได้ งานของคุณบันทึกไว้ในโทรศัพท์และจะส่งในการซิงค์ครั้งถัดไป
network-insecure_http = ที่อยู่เซิร์ฟเวอร์ไม่ปลอดภัย (http://) ยังไม่ได้ส่งข้อมูลใด ขอที่อยู่ https:// จากผู้ประสานงาน
network-untrusted_certificate = โทรศัพท์นี้ไม่เชื่อถือใบรับรองของเซิร์ฟเวอร์ ยังไม่ได้ส่งข้อมูลใด ติดต่อผู้ประสานงาน
network-tls_setup = การตั้งค่าการเชื่อมต่อที่ปลอดภัยของแอปใช้ไม่ได้ ติดต่อผู้ประสานงาน

input-bad_key = กุญแจที่เก็บข้อมูลต้องยาว 32 ไบต์
input-empty_device_id = รหัสอุปกรณ์ว่างอยู่
input-not_json = { $field } ไม่ใช่ค่าที่ถูกต้อง
input-bad_date = { $field }: “{ $value }” ไม่ใช่วันที่ (ใช้ YYYY-MM-DD)

stage-intake = รับเคส
stage-assessment = ประเมิน
stage-planning = วางแผน
stage-implementation = ดำเนินการ
stage-monitoring = ติดตามผล
stage-closed = ปิดแล้ว

role-chw = อาสาสมัคร
role-coordinator = ผู้ประสานงาน
role-admin = ผู้ดูแลระบบ
role-agency = เจ้าหน้าที่หน่วยงาน
