//! The built-in classifier's curated word lists: Korean particles, copula and verb endings,
//! the nouns that merely look like they end in one, one-syllable nouns, and stopwords.
//!
//! Every entry is in the classifier's canonical form (NFKC, lower case). Changing a list
//! changes answers: bump [`super::BuiltinClassifier::MODEL`] with it. (rustfmt skips this
//! file: one word a line would make the tables unreadable.)

/// Case and other particles (격조사, 보조사) that follow a noun.
pub(super) const CASE_PARTICLES: &[&str] = &[
    "이", "가", "을", "를", "은", "는", "의", "에", "에서", "에게", "에게서", "한테", "한테서",
    "께", "께서", "으로", "로", "으로서", "로서", "으로써", "로써", "으로부터", "로부터",
    "에서부터", "와", "과", "랑", "이랑", "하고", "보다", "처럼", "같이", "만큼", "부터", "까지",
    "조차", "마저", "밖에", "이나", "나", "이든", "이든지", "든지", "이라도", "라도", "이며",
    "뿐", "마다", "대로", "에다", "에다가",
];

/// Particles that stack after a case particle ("서울에서는", "카드로도", "환불은요"); each is
/// also a particle on its own.
pub(super) const STACKING_PARTICLES: &[&str] = &["은", "는", "도", "만", "요"];

/// The copula 이다 after a noun ("카드인가요", "얼마예요"). Forms that begin with 라 ("라고",
/// "라는") are left out on purpose: too many loanwords end in 라 ("카메라는").
pub(super) const COPULA: &[&str] = &[
    "이다", "입니다", "입니까", "인가요", "인가", "인지", "인지요", "인데", "인데요", "이에요",
    "예요", "에요", "이야", "이고", "이라", "이라서", "이라고", "이라는", "이라면", "이면",
    "였는데", "이었는데", "였어요", "이었어요", "였나요", "이었나요", "일까요", "인거", "인건",
    "인건가요", "인거죠", "인거예요", "이죠", "이네요",
];

/// A group of verb tails: each base (a light or auxiliary verb in one fused form) followed by
/// each ending.
pub(super) struct VerbGroup {
    pub(super) bases: &'static [&'static str],
    pub(super) endings: &'static [&'static str],
    /// The bases that are tails on their own ("이용할" → "이용"): only those that rarely end
    /// a noun; the rest ("줄" in "대기줄", "본" in "일본", "준" in "기준") are not.
    pub(super) bare: &'static [&'static str],
}

/// 하다/되다/시키다/드리다 and the auxiliaries 있다, 없다, 싶다, 같다, 않다, 받다, 주다,
/// 보다 in the fused forms a noun + light verb takes in questions ("환불하려면",
/// "예약했는데", "충전할까요", "취소해주세요", "결제됩니다", "로그인이안돼요").
pub(super) const VERB_GROUPS: &[VerbGroup] = &[
    // Vowel-final stems: 하-려면, 되-나요, 시키-고.
    VerbGroup {
        bases: &["하", "되", "시키", "드리", "안하", "안되", "못하"],
        endings: &[
            "고", "는", "는데", "는데요", "는데도", "는지", "는지요", "는게", "는거", "는건", "는건가요",
            "는건지", "는법", "는방법", "려면", "려고", "려는데", "려는데요", "려구요", "나요",
            "니", "니까", "니까요", "면", "면은", "면서", "지", "지만", "지요", "죠", "기", "기가",
            "기는", "기도", "기에", "기위해", "기위해서", "기전에", "세요", "셔서", "셨는데",
            "셨어요", "셨나요", "시나요", "시는", "시려면", "시면", "실", "실까요", "신", "십니까",
            "다", "다가", "다고", "다는", "다면", "던", "던데", "도록", "며", "네요", "겠",
            "겠어요", "겠습니다", "겠나요", "겠죠", "냐", "냐고", "는가", "는가요", "자", "지않",
            "지않아요", "지않나요", "지않습니다", "지않는", "지않고", "지못", "지마세요",
            "고싶어요", "고싶은데", "고싶은데요", "고싶습니다", "고싶다", "고싶으면", "고싶은",
            "고있어요", "고있는데", "고있는데요", "고있나요", "고있습니다", "였는데", "였어요",
            "였습니다", "였나요", "여", "여야", "여서", "게", "게요",
            // "되요" for 돼요: a misspelling common enough to expect
            "요",
        ],
        bare: &["하", "되", "시키", "드리", "안하", "안되", "못하"],
    },
    // Consonant-final stems and fused past forms: 받-으려면, 있-나요, 했-는데, 됐-어요.
    VerbGroup {
        bases: &[
            "받", "있", "없", "싶", "같", "않", "했", "됐", "받았", "있었", "없었", "싶었", "않았",
            "시켰", "드렸", "줬", "봤", "안했", "안됐", "못했",
        ],
        endings: &[
            "고", "는", "는데", "는데요", "는데도", "는지", "는지요", "는게", "는거", "는건", "나요", "니",
            "니까", "지", "지만", "지요", "죠", "기", "기가", "네요", "다", "다고", "다면", "다는",
            "던", "던데", "던데요", "습니다", "습니까", "어요", "어서", "어도", "어야", "아요",
            "아서", "아도", "아야", "으면", "으려면", "으려고", "으니까", "으세요", "으신",
            "으시면", "을", "을까요", "을때", "을수", "을지", "은", "은데", "은데요", "은지", "음",
            "겠", "겠어요", "겠습니다", "겠죠", "냐", "었는데", "었어요", "었나요", "었습니다",
            "았는데", "았어요", "았나요", "았습니다", "더니", "더라고요",
        ],
        bare: &[
            "받", "있", "없", "싶", "같", "않", "했", "됐", "받았", "있었", "없었", "싶었", "않았",
            "시켰", "드렸", "줬", "봤", "안했", "안됐", "못했",
        ],
    },
    // 아/어-fused forms: 해-요, 돼-서, 해-주세요, 해-봤는데.
    VerbGroup {
        bases: &["해", "돼", "시켜", "드려", "줘", "봐", "안해", "안돼", "못해", "되어", "하여"],
        endings: &[
            "요", "서", "서요", "야", "야해요", "야하나요", "야되나요", "야돼요", "야합니다",
            "야할까요", "야하는데", "야하는지", "야겠어요", "도", "도되나요", "도돼요", "도될까요",
            "도되요", "주세요", "주실", "주시나요", "주시면", "주나요", "주면", "줘", "줘요",
            "줄수", "주시겠어요", "보려면", "보니", "보니까", "봐", "봐도", "봤는데", "봤어요",
            "보고", "보세요", "버렸어요", "버렸는데", "있어요", "있는데", "놓은", "놨는데",
            "놓았는데",
        ],
        bare: &["해", "돼", "시켜", "드려", "안해", "안돼", "못해", "되어", "하여"],
    },
    // ㄹ-fused future forms: 할-까요, 될-수, 할-때.
    VerbGroup {
        bases: &["할", "될", "시킬", "드릴", "줄", "볼", "안할", "못할"],
        endings: &[
            "까요", "까", "수", "수도", "때", "때는", "거", "건가요", "건데", "건데요", "게요",
            "래요", "려면", "려고", "려구요", "지", "지요", "지도", "텐데", "텐데요", "꺼", "께요",
            "것",
        ],
        bare: &["할", "될", "시킬", "드릴", "안할", "못할"],
    },
    // ㄴ-fused forms: 한-가요, 된-건가요, 한-적.
    VerbGroup {
        bases: &["한", "된", "시킨", "드린", "준", "본", "안한", "안된", "못한"],
        endings: &[
            "가요", "가", "건가요", "건가", "거", "건", "건데", "거예요", "거에요", "게", "데",
            "데요", "데도", "지", "지요", "후", "후에", "뒤", "뒤에", "다", "다고", "다면", "다는",
            "대요", "적",
        ],
        bare: &["한", "된", "시킨", "드린", "안한", "안된", "못한"],
    },
    // ㅂ-fused formal forms: 합-니다, 됩-니까.
    VerbGroup {
        bases: &["합", "됩", "시킵", "드립", "안됩", "못합"],
        endings: &["니다", "니까", "니다만"],
        bare: &[],
    },
    // ㅁ-fused nominal forms: 함, 됨 ("결제안됨").
    VerbGroup { bases: &["함", "됨", "안됨"], endings: &[], bare: &["함", "됨", "안됨"] },
];

/// Endings that follow any verb stem, for native verbs without a light verb ("바꾸려면",
/// "보내나요"). Only endings of two or more syllables that no common noun ends in.
pub(super) const GENERAL_ENDINGS: &[&str] = &[
    "려면", "으려면", "려고", "으려고", "는데", "는데요", "는데도", "나요", "니까", "으니까", "세요",
    "으세요", "습니다", "습니까", "어요", "아요", "여요", "워요", "어서", "아서", "어도", "아도",
    "어야", "아야", "으면", "을까요", "을수", "는지", "는지요", "은데", "은데요", "었는데",
    "았는데", "였는데", "었어요", "았어요", "였어요", "었나요", "았나요", "었습니다",
    "았습니다", "겠어요", "겠습니다", "네요", "던데", "던데요", "더라고요", "거든요", "지만",
    "군요", "나봐요", "주세요", "줘요", "주실", "주시나요", "주시겠어요", "주나요",
];

/// Nouns whose last syllables look like a particle or ending ("문의" is not 문 + 의,
/// "카카오페이" is not 카카오페 + 이): never cut themselves, and a cut inside a longer token
/// does not fall inside one of these (nor inside a rule keyword) unless what it leaves is a
/// known word ("변경과" is 변경 + 과 when "변경" is a rule keyword, despite "경과").
pub(super) const PROTECTED_NOUNS: &[&str] = &[
    // …이
    "페이", "와이파이", "플레이", "디스플레이", "어린이", "고양이", "놀이", "아이", "나이",
    "길이", "종이", "높이", "깊이", "넓이", "차이", "사이", "오이", "데이", "스테이", "웨이",
    "딜레이", "릴레이",
    // …가
    "추가", "평가", "휴가", "증가", "참가", "국가", "물가", "정가", "특가", "원가", "단가",
    "시가", "대가", "전문가", "할인가", "판매가",
    // …과
    "결과", "효과", "사과", "통과", "초과", "학과", "경과", "성과", "부과", "외과", "내과",
    "치과", "안과", "피부과", "소아과", "산부인과", "이비인후과", "비뇨기과",
    // …의
    "문의", "회의", "강의", "동의", "합의", "논의", "건의", "질의", "정의", "편의", "주의",
    "유의", "예의", "의의", "이의", "협의", "심의", "토의", "모의", "거의",
    // …도
    "한도", "속도", "온도", "정도", "제도", "용도", "지도", "시도", "태도", "각도", "강도",
    "농도", "밀도", "습도", "고도", "포도", "반도", "빈도", "진도", "인도", "보도", "복도",
    "제주도", "경기도", "강원도", "충청도", "전라도", "경상도", "울릉도", "독도",
    // …로
    "도로", "경로", "통로", "진로", "항로", "선로", "회로", "미로", "철로", "수로", "대로",
    "메트로", "유로", "종로", "과로",
    // …나, …만, …요, …을, …랑
    "세미나", "바나나", "코로나", "안테나", "하나", "불만", "미만", "천만", "백만", "십만",
    "필요", "중요", "수요", "주요", "개요", "강요", "소요", "마을", "가을", "노을", "사랑",
    // …고, …세, …어 (ending look-alikes)
    "재고", "광고", "사고", "신고", "창고", "참고", "최고", "경고", "보고", "공고", "예고",
    "잔고", "부가세", "관세", "면세", "과세", "투어", "스토어", "웨어", "에어", "페어",
    // a whole word that is otherwise a stem and a copula ending
    "라면",
];

/// Nouns that end like a light verb ("이해" is not 이 + 해): never cut themselves, but unlike
/// [`PROTECTED_NOUNS`] they do not stop a cut inside a longer token, where the look-alike
/// is usually a noun followed by a light verb ("운영하려면" is 운영 + 하려면, not 운 + 영하).
pub(super) const LIGHT_VERB_LOOKALIKES: &[&str] = &[
    "이하", "지하", "영하", "피해", "이해", "방해", "손해", "오해", "올해", "새해", "재해",
    "침해", "제한", "권한", "기한", "무한", "대한", "역할", "분할", "하자", "해지", "해제",
];

/// One-syllable nouns kept as keywords (any other one-syllable Hangul token is dropped: it is
/// almost always a verb stem, a bound noun or a fragment).
pub(super) const SHORT_NOUNS: &[&str] = &[
    "앱", "돈", "표", "역", "폰", "차", "집", "방", "값", "약", "옷", "책", "길", "문", "짐", "빵",
    "밥", "물", "병", "술", "비", "눈", "층", "칸", "팁",
];

/// Korean stopwords: question words, pronouns, bound nouns, greetings, fillers and the
/// generic verbs of a question ("알려주세요", "궁금합니다").
pub(super) const KOREAN_STOPWORDS: &[&str] = &[
    // question words
    "어디", "어디서", "어디에", "어디로", "어떻게", "어떡해", "어떡하", "어떡하죠", "어케",
    "어떤", "어느", "무슨", "무엇", "뭐", "뭔", "뭔가", "뭘", "뭐가", "뭐예요", "뭔가요", "뭐죠",
    "왜", "언제", "얼마", "얼마나", "몇", "누구", "누가",
    // existence, possibility and the bare verbs of a question
    "있나요", "없나요", "있어요", "없어요", "있는", "없는", "있습니다", "없습니다", "하나요",
    "해요", "하면", "되나요", "돼요", "됩니다", "합니다", "같아요", "싶어요", "주세요",
    "해주세요", "가능", "가능한가요", "불가능", "되는", "하는",
    // pronouns and determiners
    "제가", "저", "저는", "저도", "제", "저희", "나", "나는", "내가", "내", "우리", "너", "당신",
    "이", "그", "저것", "이것", "그것", "이거", "그거", "저거", "이건", "그건", "여기", "거기",
    "저기", "모든", "각", "해당",
    // bound nouns and fillers
    "수", "것", "거", "건", "게", "좀", "때", "중", "전", "후", "분", "등", "및", "또", "또는",
    "너무", "정말", "진짜", "많이", "다", "잘", "못", "안", "더", "꼭", "바로", "계속", "아직",
    "이미", "다시", "지금", "그냥", "제일", "가장", "약간", "조금", "혹시", "함께", "방법",
    "경우", "정도", "관련", "때문", "때문에", "필요", "자꾸", "항상", "자주", "가끔", "갑자기",
    "벌써", "아까", "먼저", "나중", "나중에", "빨리", "다른", "같은", "어떤가요",
    // connectives
    "그리고", "그런데", "근데", "그래서", "그럼", "그러면", "그러나", "하지만",
    // "about", "through", "for"
    "대해", "대해서", "대한", "관해", "관해서", "위해", "위해서", "통해", "통해서", "따라",
    // asking, knowing, thanking, greeting
    "알려주세요", "알려줘", "알려줘요", "알려주실", "알려", "알고", "알고싶어요", "모르",
    "모르겠어요", "모르겠습니다", "궁금", "궁금합니다", "궁금해요", "궁금한데요", "부탁",
    "부탁드립니다", "부탁드려요", "부탁해요", "안녕하세요", "안녕", "감사합니다", "감사해요",
    "고맙습니다", "수고하세요", "네", "예", "아니요", "아니",
];

/// English stopwords: articles, pronouns, auxiliaries, prepositions, question words and
/// the politeness of a question.
pub(super) const ENGLISH_STOPWORDS: &[&str] = &[
    "a", "about", "after", "again", "all", "also", "am", "an", "and", "any", "are", "as", "at",
    "be", "been", "before", "being", "but", "by", "can", "can't", "cannot", "could", "couldn't",
    "did", "didn't", "do", "does", "doesn't", "doing", "don't", "for", "from", "get", "got",
    "had", "has", "have", "having", "he", "hello", "help", "her", "here", "hi", "him", "his",
    "how", "i", "i'd", "i'm", "i've", "if", "in", "into", "is", "isn't", "it", "its", "just",
    "know", "let", "like", "me", "more", "my", "need", "no", "not", "now", "of", "ok", "okay",
    "on", "or", "our", "out", "please", "should", "so", "some", "tell", "than", "thank",
    "thanks", "that", "the", "their", "them", "then", "there", "these", "they", "this", "those",
    "to", "too", "up", "us", "want", "was", "way", "we", "were", "what", "when", "where",
    "which", "who", "why", "will", "with", "won't", "would", "you", "your", "com", "www",
    "http", "https", "aren't", "hasn't", "haven't", "wasn't", "weren't", "shouldn't",
    "wouldn't", "i'll", "you're", "yet", "still", "there's", "what's", "where's", "how's",
];
