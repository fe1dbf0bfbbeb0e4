-- The built-in keyword classifier's default rules (keyword-worker's `builtin` module): a
-- starting set for a Korean customer-service chatbot, in English category codes
-- (account, payment, reservation, delivery, transport, technical, information; a question
-- no rule matches is `other`).
--
-- Operators edit this table; the worker reads all of it when it builds its classifier
-- (BuiltinClassifier::load). A question's category is the one with the highest sum of
-- weights over its words (ties go to the category name that sorts first): 1.0 is a usual
-- signal, 2.0 a strong one, 0.5 a word too generic to decide alone ("문의", "안내"). A
-- weight that is not positive is ignored.
--
-- Keywords are stored normalised as the classifier compares them: NFC (NFKC for full-width
-- letters), lower case, one word without spaces or punctuation, and a noun without its
-- particle or ending ("환불", not "환불은" or "환불하기"). A rule of two Hangul syllables or
-- more also matches the words it begins ("환불" matches "환불금"); an English rule matches
-- its plural ("ticket" matches "tickets").
INSERT INTO keyword_category_rule (keyword, category, weight) VALUES
    -- account: sign-in and membership
    ('로그인', 'account', 2.0), ('비밀번호', 'account', 2.0), ('회원가입', 'account', 2.0),
    ('가입', 'account', 1.0), ('탈퇴', 'account', 2.0), ('아이디', 'account', 2.0),
    ('계정', 'account', 2.0), ('인증', 'account', 1.0), ('본인인증', 'account', 2.0),
    ('회원', 'account', 1.0), ('개인정보', 'account', 1.0), ('로그아웃', 'account', 2.0),
    ('해지', 'account', 1.0), ('login', 'account', 2.0), ('password', 'account', 2.0),
    ('account', 'account', 2.0), ('signup', 'account', 2.0), ('username', 'account', 2.0),
    ('logout', 'account', 2.0),
    -- payment: paying, charges and refunds
    ('결제', 'payment', 2.0), ('카드', 'payment', 1.0), ('신용카드', 'payment', 2.0),
    ('체크카드', 'payment', 1.0), ('환불', 'payment', 2.0), ('요금', 'payment', 1.0),
    ('영수증', 'payment', 2.0), ('충전', 'payment', 1.0), ('할부', 'payment', 2.0),
    ('계좌', 'payment', 1.0), ('입금', 'payment', 1.0), ('포인트', 'payment', 1.0),
    ('쿠폰', 'payment', 1.0), ('할인', 'payment', 1.0), ('가격', 'payment', 1.0),
    ('수수료', 'payment', 1.0), ('카카오페이', 'payment', 2.0), ('네이버페이', 'payment', 2.0),
    ('페이', 'payment', 1.0), ('잔액', 'payment', 1.0), ('payment', 'payment', 2.0),
    ('pay', 'payment', 1.0), ('refund', 'payment', 2.0), ('fee', 'payment', 1.0),
    ('card', 'payment', 1.0), ('charge', 'payment', 1.0), ('receipt', 'payment', 2.0),
    ('invoice', 'payment', 2.0), ('coupon', 'payment', 1.0), ('discount', 'payment', 1.0),
    -- reservation: bookings and their changes
    ('예약', 'reservation', 2.0), ('취소', 'reservation', 1.0), ('변경', 'reservation', 1.0),
    ('좌석', 'reservation', 2.0), ('일정', 'reservation', 1.0), ('예매', 'reservation', 2.0),
    ('예약번호', 'reservation', 2.0), ('체크인', 'reservation', 1.0), ('객실', 'reservation', 1.0),
    ('booking', 'reservation', 2.0), ('book', 'reservation', 1.0),
    ('reservation', 'reservation', 2.0), ('cancel', 'reservation', 1.0),
    ('cancellation', 'reservation', 1.0), ('seat', 'reservation', 1.0),
    ('schedule', 'reservation', 1.0), ('reschedule', 'reservation', 2.0),
    ('check-in', 'reservation', 1.0),
    -- delivery: orders, shipping and returns
    ('배송', 'delivery', 2.0), ('택배', 'delivery', 2.0), ('주소', 'delivery', 1.0),
    ('도착', 'delivery', 1.0), ('반품', 'delivery', 2.0), ('교환', 'delivery', 1.0),
    ('배송지', 'delivery', 2.0), ('배송비', 'delivery', 2.0), ('송장', 'delivery', 2.0),
    ('운송장', 'delivery', 2.0), ('출고', 'delivery', 2.0), ('발송', 'delivery', 1.0),
    ('수령', 'delivery', 1.0), ('배달', 'delivery', 2.0), ('주문', 'delivery', 1.0),
    ('delivery', 'delivery', 2.0), ('shipping', 'delivery', 2.0), ('return', 'delivery', 1.0),
    ('parcel', 'delivery', 2.0), ('tracking', 'delivery', 2.0), ('order', 'delivery', 1.0),
    ('courier', 'delivery', 2.0),
    -- transport: public transport
    ('교통카드', 'transport', 2.0), ('버스', 'transport', 2.0), ('지하철', 'transport', 2.0),
    ('기차', 'transport', 2.0), ('ktx', 'transport', 2.0), ('srt', 'transport', 2.0),
    ('노선', 'transport', 2.0), ('정류장', 'transport', 2.0), ('역', 'transport', 1.0),
    ('환승', 'transport', 2.0), ('배차', 'transport', 2.0), ('첫차', 'transport', 2.0),
    ('막차', 'transport', 2.0), ('택시', 'transport', 1.0), ('승차권', 'transport', 2.0),
    ('열차', 'transport', 2.0), ('티머니', 'transport', 2.0), ('표', 'transport', 1.0),
    ('bus', 'transport', 2.0), ('subway', 'transport', 2.0), ('train', 'transport', 2.0),
    ('station', 'transport', 1.0), ('route', 'transport', 1.0), ('ticket', 'transport', 1.0),
    -- technical: the app and the web site not working
    ('오류', 'technical', 2.0), ('에러', 'technical', 2.0), ('앱', 'technical', 1.0),
    ('어플', 'technical', 1.0), ('설치', 'technical', 1.0), ('업데이트', 'technical', 2.0),
    ('접속', 'technical', 1.0), ('버그', 'technical', 2.0), ('다운로드', 'technical', 1.0),
    ('화면', 'technical', 1.0), ('알림', 'technical', 1.0), ('먹통', 'technical', 2.0),
    ('홈페이지', 'technical', 1.0), ('사이트', 'technical', 1.0), ('버전', 'technical', 1.0),
    ('error', 'technical', 2.0), ('app', 'technical', 1.0), ('bug', 'technical', 2.0),
    ('install', 'technical', 1.0), ('update', 'technical', 1.0), ('crash', 'technical', 2.0),
    -- information: opening hours, places and contacts (generic words weigh less)
    ('운영시간', 'information', 2.0), ('영업시간', 'information', 2.0), ('위치', 'information', 1.0),
    ('전화번호', 'information', 1.0), ('문의', 'information', 0.5), ('안내', 'information', 0.5),
    ('주차', 'information', 1.0), ('고객센터', 'information', 1.0), ('연락처', 'information', 1.0),
    ('상담', 'information', 0.5), ('상담원', 'information', 1.0), ('휴무', 'information', 2.0),
    ('공지', 'information', 1.0), ('오시는길', 'information', 2.0), ('hours', 'information', 2.0),
    ('location', 'information', 1.0), ('contact', 'information', 1.0),
    ('phone', 'information', 1.0);
