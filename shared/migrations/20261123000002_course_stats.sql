-- AI-course usage stats (source system 000, export_ai_course_stats.py).
-- ai_course maps course ids to the nine AI product names; operators add ids with a plain
-- INSERT, no deploy needed. ai_course_monthly_users holds distinct users per course name,
-- student level and log month; the course-stats function replaces a month atomically.

CREATE TABLE ai_course (
    course_id      VARCHAR(128) NOT NULL,
    ai_course_name VARCHAR(64) NOT NULL,
    PRIMARY KEY (course_id),
    KEY ix_ai_course_name (ai_course_name)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

INSERT INTO ai_course (course_id, ai_course_name) VALUES
    ('770', '酷英AI英語聊天機器人'), ('772', '酷英AI英語聊天機器人'), ('775', '酷英AI英語聊天機器人'), ('779', '酷英AI英語聊天機器人'),
    ('941', '酷英篇章口說評測系統'), ('942', '酷英篇章口說評測系統'), ('943', '酷英篇章口說評測系統'), ('944', '酷英篇章口說評測系統'),
    ('767', '酷英語音合成工具/語音合成工具'), ('768', '酷英語音合成工具/語音合成工具'), ('771', '酷英語音合成工具/語音合成工具'),
    ('773', '酷英語音合成工具/語音合成工具'), ('774', '酷英語音合成工具/語音合成工具'), ('776', '酷英語音合成工具/語音合成工具'),
    ('777', '酷英語音合成工具/語音合成工具'), ('778', '酷英語音合成工具/語音合成工具'), ('918', '酷英語音合成工具/語音合成工具'),
    ('919', '酷英語音合成工具/語音合成工具'), ('920', '酷英語音合成工具/語音合成工具'), ('921', '酷英語音合成工具/語音合成工具'),
    ('1358', '酷英語音合成工具/語音合成工具'),
    ('841', '酷英AI寫作偵錯工具'), ('843', '酷英AI寫作偵錯工具'), ('922', '酷英AI寫作偵錯工具'), ('923', '酷英AI寫作偵錯工具'),
    ('924', '酷英AI寫作偵錯工具'), ('925', '酷英AI寫作偵錯工具'),
    ('842', '多益寫作評估工具'), ('844', '多益寫作評估工具'), ('926', '多益寫作評估工具'), ('927', '多益寫作評估工具'),
    ('928', '多益寫作評估工具'), ('930', '多益寫作評估工具'),
    ('862', 'Linggle Write'), ('864', 'Linggle Write'), ('868', 'Linggle Write'), ('937', 'Linggle Write'), ('938', 'Linggle Write'),
    ('939', 'Linggle Write'), ('940', 'Linggle Write'), ('1355', 'Linggle Write'), ('1388', 'Linggle Write'),
    ('989', '酷英教學＆學習工具區'), ('990', '酷英教學＆學習工具區'), ('991', '酷英教學＆學習工具區'), ('992', '酷英教學＆學習工具區'),
    ('912', '酷英教師AI特助'), ('915', '酷英教師AI特助'), ('916', '酷英教師AI特助'), ('917', '酷英教師AI特助'),
    ('972', '酷英沉浸式閱讀工具'), ('973', '酷英沉浸式閱讀工具'), ('974', '酷英沉浸式閱讀工具'), ('975', '酷英沉浸式閱讀工具');

CREATE TABLE ai_course_monthly_users (
    ai_course_name VARCHAR(64) NOT NULL,
    student_level  VARCHAR(32) NOT NULL COMMENT '國小, 國中, 普高, 技高, 大專',
    month          CHAR(7) CHARACTER SET ascii NOT NULL COMMENT 'YYYY-MM, the log month',
    user_count     INT UNSIGNED NOT NULL COMMENT 'distinct actor.uid',
    computed_at    DATETIME(3) NOT NULL,
    PRIMARY KEY (ai_course_name, student_level, month),
    KEY ix_ai_course_monthly_users_month (month)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
