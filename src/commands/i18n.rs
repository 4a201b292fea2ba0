//! Every user-facing text (replies, command menus and option
//! descriptions, the marks on a deleted post's message), once per language.
//! Placeholders are `{name}`, filled by [`fill`].

/// A reply language.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    /// Traditional Chinese (Taiwan), the default.
    #[default]
    ZhTw,
    /// English.
    En,
}

impl Lang {
    /// From a platform's language code (`en`, `en-US`, `zh-TW`, …); `None`
    /// when unknown or empty.
    pub fn from_code(code: &str) -> Option<Lang> {
        let c = code.to_ascii_lowercase();
        if c.starts_with("en") {
            Some(Lang::En)
        } else if c.starts_with("zh") {
            Some(Lang::ZhTw)
        } else {
            None
        }
    }

    /// From `bot.locale` (`zh-TW` or `en`).
    pub fn from_setting(s: &str) -> Lang {
        Lang::from_code(s).unwrap_or_default()
    }

    /// The texts of this language.
    pub fn texts(self) -> &'static Texts {
        match self {
            Lang::ZhTw => &ZH_TW,
            Lang::En => &EN,
        }
    }
}

/// The texts of one language.
#[derive(Debug)]
pub struct Texts {
    /// `/help` and `/start`.
    pub help: &'static str,
    /// Usage of `/subscribe`.
    pub usage_subscribe: &'static str,
    /// Usage of `/unsubscribe`.
    pub usage_unsubscribe: &'static str,
    /// Usage of `/latest`.
    pub usage_latest: &'static str,
    /// Usage of `/top`.
    pub usage_top: &'static str,
    /// `{what}` is the parse error.
    pub malformed: &'static str,
    /// `{name}`.
    pub unknown_command: &'static str,
    /// `{id}` `{board}` `{filter}`.
    pub subscribed: &'static str,
    /// `{id}` `{board}` `{filter}`.
    pub already_subscribed: &'static str,
    /// `{board}` `{boards}`.
    pub board_not_polled: &'static str,
    /// `{max}`.
    pub too_many_subscriptions: &'static str,
    /// Subscribe/unsubscribe by a non-admin in a group.
    pub admins_only: &'static str,
    /// `{n}`.
    pub unsubscribed: &'static str,
    /// Nothing matched `/unsubscribe`.
    pub nothing_to_unsubscribe: &'static str,
    /// `/list` heading.
    pub list_heading: &'static str,
    /// `/list` with nothing.
    pub list_empty: &'static str,
    /// Marks a paused subscription.
    pub paused_mark: &'static str,
    /// `/latest` with nothing.
    pub latest_empty: &'static str,
    /// `/top` with nothing today.
    pub top_empty: &'static str,
    /// `/top`'s first line; `{day}` is the +08:00 date.
    pub top_heading: &'static str,
    /// A `top:N` leaderboard's first line while the day runs: `{board}`,
    /// `{day}` (the +08:00 date), `{time}` (+08:00, of the last update).
    pub leaderboard_live: &'static str,
    /// Its first line once the day ended: `{board}`, `{day}`.
    pub leaderboard_final: &'static str,
    /// `{k}`.
    pub and_more: &'static str,
    /// `/status` lines: `{boards}`.
    pub status_boards: &'static str,
    /// `{board}` `{when}`.
    pub status_board_line: &'static str,
    /// A board never polled.
    pub status_never: &'static str,
    /// `{n}`.
    pub status_outbox: &'static str,
    /// `{n}`.
    pub status_tracked: &'static str,
    /// `{when}`.
    pub status_last_edit: &'static str,
    /// `{leader}`.
    pub status_leader: &'static str,
    /// `{version}`.
    pub status_version: &'static str,
    /// Said before the reply when a paused chat resumes.
    pub resumed: &'static str,
    /// The store failed.
    pub internal_error: &'static str,
    /// `{n}` commands a minute were answered; the rest of the minute is
    /// ignored.
    pub slow_down: &'static str,
    /// The chat's commands are queued too deep to take this one.
    pub busy: &'static str,
    /// Parse errors: `{q}` is the offending text, `{key}` a filter key.
    pub err_unbalanced_quote: &'static str,
    /// `/unsubscribe` without a target.
    pub err_missing_target: &'static str,
    /// `{q}`.
    pub err_bad_target: &'static str,
    /// `{q}`.
    pub err_bad_count: &'static str,
    /// `/top` with a count out of range; `{q}` is the value.
    pub err_bad_top_count: &'static str,
    /// A command that takes no words got some.
    pub err_unexpected_words: &'static str,
    /// `{q}`.
    pub err_unknown_word: &'static str,
    /// `{key}` `{q}`.
    pub err_bad_value: &'static str,
    /// `{key}`.
    pub err_repeated: &'static str,
    /// `{a}` `{b}`: two words that exclude each other.
    pub err_conflict: &'static str,
    /// `{max}`.
    pub err_too_many_words: &'static str,
    /// `{q}` `{max}`.
    pub err_word_too_long: &'static str,
    /// `{key}` (`stock`, `sector`) `{q}` `{closest}`: a value naming no
    /// listed company or industry group, with the closest ones.
    pub err_not_listed: &'static str,
    /// Between the items of an inline list.
    pub list_separator: &'static str,
    /// `/subscribe @channel` from a private chat: `{channel}` is unknown,
    /// not a channel, or the bot is not in it.
    pub channel_not_found: &'static str,
    /// `{channel}`: the sender does not administer it.
    pub channel_not_admin: &'static str,
    /// `{channel}`: the bot may not post there.
    pub channel_bot_cannot_post: &'static str,
    /// Descriptions for command menus: subscribe, unsubscribe, list, latest,
    /// status, help.
    pub menu: [&'static str; 7],
    /// Descriptions of the slash command's options.
    pub options: OptionTexts,
}

/// Descriptions of the slash command and its options in one language
/// (at most 100 characters each).
#[derive(Debug)]
pub struct OptionTexts {
    /// The command itself.
    pub command: &'static str,
    /// `board`.
    pub board: &'static str,
    /// `tag`.
    pub tag: &'static str,
    /// `kw`.
    pub kw: &'static str,
    /// `not`.
    pub not: &'static str,
    /// `author`.
    pub author: &'static str,
    /// `push`.
    pub push: &'static str,
    /// `re`.
    pub re: &'static str,
    /// `fw`.
    pub fw: &'static str,
    /// `silent`.
    pub silent: &'static str,
    /// `preview`.
    pub preview: &'static str,
    /// `stock`.
    pub stock: &'static str,
    /// `sector`.
    pub sector: &'static str,
    /// `hot`.
    pub hot: &'static str,
    /// `top` of `subscribe`.
    pub top: &'static str,
    /// `target` of `unsubscribe`.
    pub target: &'static str,
    /// `n` of `latest`.
    pub n: &'static str,
    /// `channel` of Discord's `subscribe`.
    pub channel: &'static str,
    /// `n` of `top`.
    pub top_n: &'static str,
}

/// Marks on the message of a post deleted on PTT. Digests are always
/// Traditional Chinese (they quote PTT), whatever the chat's language, so
/// these are too.
#[derive(Debug)]
pub struct DigestTexts {
    /// A line above the digest.
    pub deleted_line: &'static str,
    /// A status in front of the digest's title.
    pub deleted_title: &'static str,
}

/// The digest marks.
pub static DIGEST: DigestTexts = DigestTexts {
    deleted_line: "【PTT 原文已刪除】",
    deleted_title: "【已刪除】",
};

/// Traditional Chinese.
pub static ZH_TW: Texts = Texts {
    help: "PTT 新聞轉播機器人：把 PTT 看板上的新文章（預設 Stock 板的 [新聞]）摘要送到這裡。\n\
指令：\n\
/subscribe [看板] [條件…] 訂閱（條件：tag:標籤 kw:關鍵字 not:排除字 author:作者 push:推數 hot:N/M 推文暴增 top:N 每日排行 re:yes fw:yes stock:代號或簡稱 sector:產業類別；送法：silent:yes 不發通知、preview:source|ptt|off 連結預覽）\n\
/unsubscribe 編號|看板|all 取消訂閱\n\
/list 列出本聊天室的訂閱\n\
/latest [N] 最近 N 則符合的摘要（1–20，預設 5）\n\
/top [看板] [N] 今天（台北時間）符合訂閱的文章依淨推文數排行前 N 名（3–20，預設 10）\n\
/status 狀態\n\
例：/subscribe Stock kw:台積電 not:\"盤中閒聊\"",
    usage_subscribe: "用法：/subscribe [看板] [tag:標籤] [kw:關鍵字]… [not:排除字]… [author:作者] [push:1–999] [hot:N/M] [top:3–20] [re:yes|no] [fw:yes|no] [stock:代號|簡稱]… [sector:產業類別]… [silent:yes|no] [preview:source|ptt|off]\n含空白的值請加引號，例如 kw:\"台積電 ADR\"\nstock: 標題或摘要提到該公司（代號或簡稱，如 stock:2330、stock:台積電）；sector: 提到該產業任一公司（如 sector:半導體業）\nhot:N/M 淨推文數在 M 分鐘內增加 N 以上時轉播一次（N 1–999，M 1–60，如 hot:20/10）\ntop:N 不逐篇轉播，改為每天（台北時間）一則排行訊息：當天符合條件的文章依淨推文數前 N 名（3–20），隨推文數更新（最多每 5 分鐘一次），午夜定稿",
    usage_unsubscribe: "用法：/unsubscribe 編號|看板|all",
    usage_latest: "用法：/latest [N]（N 為 1–20）",
    usage_top: "用法：/top [看板] [N]（N 為 3–20）",
    malformed: "指令有誤：{what}",
    unknown_command: "不認得的指令 /{name}。",
    subscribed: "已訂閱 #{id}：{board} {filter}",
    already_subscribed: "已經訂閱過了 #{id}：{board} {filter}",
    board_not_polled: "看板 {board} 不在轉播範圍。可訂閱的看板：{boards}",
    too_many_subscriptions: "每個聊天室最多 {max} 個訂閱。請先 /unsubscribe 不需要的。",
    admins_only: "只有管理員可以訂閱或取消訂閱。",
    unsubscribed: "已取消 {n} 個訂閱。",
    nothing_to_unsubscribe: "沒有符合的訂閱。用 /list 查看編號。",
    list_heading: "本聊天室的訂閱：",
    list_empty: "目前沒有訂閱。用 /subscribe 開始訂閱。",
    paused_mark: "（暫停）",
    latest_empty: "還沒有符合訂閱的文章。",
    top_empty: "今天還沒有符合訂閱的文章。",
    top_heading: "今日推文排行（{day}，台北時間）",
    leaderboard_live: "📊 {board} 今日推文排行 {day}（{time} 更新，台北時間）",
    leaderboard_final: "📊 {board} 推文排行 {day}（當日最終）",
    and_more: "…還有 {k} 則",
    status_boards: "轉播看板：{boards}",
    status_board_line: "{board} 上次成功讀取：{when}",
    status_never: "尚未讀取",
    status_outbox: "待送出：{n}",
    status_tracked: "追蹤推文中的文章：{n}",
    status_last_edit: "上次更新推文數：{when}",
    status_leader: "主節點：{leader}",
    status_version: "版本：ptt-relay {version}",
    resumed: "已恢復傳送到這個聊天室。",
    internal_error: "暫時無法處理，請稍後再試。",
    slow_down: "指令太多了：每個聊天室每分鐘最多回覆 {n} 個指令，這一分鐘內的其他指令將不予處理。",
    busy: "指令太多，來不及處理，這個指令沒有執行。請稍後再試。",
    err_unbalanced_quote: "引號沒有成對",
    err_missing_target: "缺少要取消的編號、看板或 all",
    err_bad_target: "「{q}」不是訂閱編號、看板或 all",
    err_bad_count: "「{q}」不是 1–20 的數字",
    err_bad_top_count: "「{q}」不是 3–20 的數字",
    err_unexpected_words: "這個指令不需要其他字",
    err_unknown_word: "看不懂「{q}」（條件要寫成 tag: kw: not: author: push: hot: top: re: fw: stock: sector: silent: preview:）",
    err_bad_value: "{key}: 的值「{q}」不對",
    err_repeated: "{key}: 只能寫一次",
    err_conflict: "{a}: 和 {b}: 不能同時使用",
    err_too_many_words: "條件太多（最多 {max} 個）",
    err_word_too_long: "「{q}」太長（每個條件最多 {max} 字）",
    err_not_listed: "{key}:「{q}」不是上市櫃公司或產業類別。最接近的：{closest}",
    list_separator: "、",
    channel_not_found: "找不到頻道 {channel}：請確認名稱，並先把機器人加為頻道管理員。",
    channel_not_admin: "你不是頻道 {channel} 的管理員，不能替它訂閱。",
    channel_bot_cannot_post: "機器人在頻道 {channel} 沒有發文權限：請把它設為可發文的管理員。",
    menu: [
        "訂閱看板新文章",
        "取消訂閱",
        "列出訂閱",
        "最近的摘要",
        "今日推文排行",
        "狀態",
        "說明",
    ],
    options: OptionTexts {
        command: "PTT 看板新文章摘要",
        board: "看板（預設為第一個轉播看板）",
        tag: "標題標籤，例如 新聞；* 表示全部（預設 新聞）",
        kw: "標題必須包含的字，以空白分隔；含空白的詞請加引號",
        not: "標題不可包含的字，以空白分隔",
        author: "作者帳號",
        push: "淨推文數達到此數才轉播（1–999）",
        re: "也轉播回文（Re:）",
        fw: "也轉播轉錄文（Fw:）",
        silent: "送出時不發通知",
        preview: "Telegram 連結預覽：source 新聞來源、ptt 原文、off 不顯示",
        stock: "提到的上市櫃公司：代號或簡稱，以空白分隔（如 2330 鴻海）",
        sector: "提到的公司所屬產業類別，以空白分隔（如 半導體業）",
        hot: "N/M：淨推文數在 M 分鐘內增加 N 以上時轉播一次（如 20/10）",
        top: "改為每日排行訊息：當天前 N 名（3–20），隨推文數更新",
        target: "訂閱編號、看板名稱或 all",
        n: "則數（1–20，預設 5）",
        channel: "要訂閱的頻道（文字、公告或論壇；預設為這個頻道）",
        top_n: "名次數（3–20，預設 10）",
    },
};

/// English.
pub static EN: Texts = Texts {
    help: "PTT news relay: sends digests of new PTT posts (by default [新聞] on the Stock board) to this chat.\n\
Commands:\n\
/subscribe [BOARD] [WORD…] subscribe (words: tag:TAG kw:WORD not:WORD author:ID push:N hot:N/M top:N re:yes fw:yes stock:CODE|NAME sector:GROUP; delivery: silent:yes without a notification, preview:source|ptt|off link preview)\n\
/unsubscribe ID|BOARD|all remove subscriptions\n\
/list this chat's subscriptions\n\
/latest [N] the last N matching digests (1–20, default 5)\n\
/top [BOARD] [N] today's (Taipei time) top N posts matching this chat, by net push (3–20, default 10)\n\
/status status\n\
Example: /subscribe Stock kw:台積電 not:\"盤中閒聊\"",
    usage_subscribe: "Usage: /subscribe [BOARD] [tag:TAG] [kw:WORD]… [not:WORD]… [author:ID] [push:1–999] [hot:N/M] [top:3–20] [re:yes|no] [fw:yes|no] [stock:CODE|NAME]… [sector:GROUP]… [silent:yes|no] [preview:source|ptt|off]\nQuote values with spaces, e.g. kw:\"台積電 ADR\"\nstock: the title or excerpt names the listed company (code or short name: stock:2330, stock:台積電); sector: any company of that industry group (sector:半導體業)\nhot:N/M relays a post once when its net push rose by N or more within M minutes (N 1–999, M 1–60, e.g. hot:20/10)\ntop:N sends no single posts but one message a day (Taipei time) ranking the day's N matching posts by net push (3–20), updated as pushes come in (at most every 5 minutes), final at midnight",
    usage_unsubscribe: "Usage: /unsubscribe ID|BOARD|all",
    usage_latest: "Usage: /latest [N] (N from 1 to 20)",
    usage_top: "Usage: /top [BOARD] [N] (N from 3 to 20)",
    malformed: "Malformed command: {what}",
    unknown_command: "Unknown command /{name}.",
    subscribed: "Subscribed #{id}: {board} {filter}",
    already_subscribed: "Already subscribed #{id}: {board} {filter}",
    board_not_polled: "Board {board} is not relayed. Boards you can subscribe to: {boards}",
    too_many_subscriptions: "A chat can have at most {max} subscriptions. /unsubscribe some first.",
    admins_only: "Only administrators can subscribe or unsubscribe.",
    unsubscribed: "Removed {n} subscription(s).",
    nothing_to_unsubscribe: "No matching subscription. /list shows the ids.",
    list_heading: "Subscriptions of this chat:",
    list_empty: "No subscriptions yet. Use /subscribe to start.",
    paused_mark: " (paused)",
    latest_empty: "No posts matching this chat's subscriptions yet.",
    top_empty: "No posts matching this chat's subscriptions today.",
    top_heading: "Today's top posts ({day}, Taipei time)",
    leaderboard_live: "📊 {board} top posts of {day} (updated {time}, Taipei time)",
    leaderboard_final: "📊 {board} top posts of {day} (final)",
    and_more: "…and {k} more",
    status_boards: "Boards relayed: {boards}",
    status_board_line: "{board} last polled successfully: {when}",
    status_never: "not yet",
    status_outbox: "Deliveries pending: {n}",
    status_tracked: "Posts with live tallies: {n}",
    status_last_edit: "Last tally edit: {when}",
    status_leader: "Leader: {leader}",
    status_version: "Version: ptt-relay {version}",
    resumed: "Deliveries to this chat are resumed.",
    internal_error: "Something went wrong on our side; please try again later.",
    slow_down: "Slow down: at most {n} commands a minute are answered in a chat; the rest of this minute is ignored.",
    busy: "Too many commands are waiting; this one was not run. Please try again later.",
    err_unbalanced_quote: "a quote is not closed",
    err_missing_target: "missing the subscription id, board or all to remove",
    err_bad_target: "\"{q}\" is not a subscription id, board or all",
    err_bad_count: "\"{q}\" is not a number from 1 to 20",
    err_bad_top_count: "\"{q}\" is not a number from 3 to 20",
    err_unexpected_words: "this command takes no words",
    err_unknown_word: "unknown word \"{q}\" (words are tag: kw: not: author: push: hot: top: re: fw: stock: sector: silent: preview:)",
    err_bad_value: "bad value for {key}: \"{q}\"",
    err_repeated: "{key}: may appear only once",
    err_conflict: "{a}: and {b}: cannot be used together",
    err_too_many_words: "too many words (at most {max})",
    err_word_too_long: "\"{q}\" is too long (at most {max} characters a word)",
    err_not_listed: "{key}:\"{q}\" is not a listed company or industry group; closest: {closest}",
    list_separator: ", ",
    channel_not_found: "Cannot find the channel {channel}: check the name, and add the bot to it as an administrator first.",
    channel_not_admin: "You do not administer the channel {channel}, so you cannot subscribe it.",
    channel_bot_cannot_post: "The bot may not post in the channel {channel}: make it an administrator that can post messages.",
    menu: [
        "Subscribe to new posts",
        "Remove subscriptions",
        "List subscriptions",
        "Latest digests",
        "Today's top posts",
        "Status",
        "Help",
    ],
    options: OptionTexts {
        command: "Digests of new PTT posts",
        board: "Board (default: the first relayed board)",
        tag: "Title tag, e.g. 新聞; * for any (default 新聞)",
        kw: "Words the title must contain, space-separated; quote a phrase with spaces",
        not: "Words the title must not contain, space-separated",
        author: "Author id",
        push: "Relay once the net push reaches this (1–999)",
        re: "Also relay replies (Re:)",
        fw: "Also relay forwards (Fw:)",
        silent: "Deliver without a notification",
        preview: "Telegram link preview: source (the news), ptt (the post) or off",
        stock: "Listed companies named: codes or short names, space-separated (e.g. 2330 鴻海)",
        sector: "Industry groups of the companies named, space-separated (e.g. 半導體業)",
        hot: "N/M: relay once when the net push rose by N within M minutes (e.g. 20/10)",
        top: "A daily leaderboard instead: the day's top N posts (3–20), kept up to date",
        target: "Subscription id, board name or all",
        n: "How many (1–20, default 5)",
        channel: "The channel to subscribe (text, announcement or forum; default: this one)",
        top_n: "How many (3–20, default 10)",
    },
};

/// Refusals of Discord's `/ptt subscribe channel:`, per language
/// (`{channel}` is the channel's mention, `{missing}` a list of
/// permission names).
#[derive(Debug)]
pub struct ChannelOptionTexts {
    /// The option was used outside a server.
    pub not_in_server: &'static str,
    /// Not a text, announcement or forum channel.
    pub wrong_kind: &'static str,
    /// The member lacks Manage Channels there.
    pub member_not_manager: &'static str,
    /// The channel is in another server.
    pub other_server: &'static str,
    /// The bot cannot see the channel.
    pub bot_cannot_see: &'static str,
    /// `{missing}`: the bot lacks permissions there.
    pub bot_lacks: &'static str,
    /// The checks could not be made (Discord did not answer).
    pub check_failed: &'static str,
    /// Names of View Channel, Send Messages, Embed Links, Read Message
    /// History, as Discord shows them.
    pub permission_names: [&'static str; 4],
}

/// Discord `channel:` refusals in Traditional Chinese.
pub static CHANNEL_OPTION_ZH_TW: ChannelOptionTexts = ChannelOptionTexts {
    not_in_server: "只有在伺服器裡才能指定頻道。",
    wrong_kind: "{channel} 不是文字、公告或論壇頻道。",
    member_not_manager: "你在 {channel} 沒有「管理頻道」權限，不能替它訂閱。",
    other_server: "{channel} 不在這個伺服器。",
    bot_cannot_see: "機器人看不到 {channel}：請在該頻道給它「檢視頻道」權限。",
    bot_lacks: "機器人在 {channel} 缺少權限：{missing}。",
    check_failed: "現在無法確認 {channel} 的權限，請稍後再試。",
    permission_names: ["檢視頻道", "傳送訊息", "嵌入連結", "讀取訊息歷史"],
};

/// Discord `channel:` refusals in English.
pub static CHANNEL_OPTION_EN: ChannelOptionTexts = ChannelOptionTexts {
    not_in_server: "A channel can be chosen only in a server.",
    wrong_kind: "{channel} is not a text, announcement or forum channel.",
    member_not_manager: "You need Manage Channels in {channel} to subscribe it.",
    other_server: "{channel} is not in this server.",
    bot_cannot_see: "The bot cannot see {channel}: give it View Channel there.",
    bot_lacks: "The bot lacks permissions in {channel}: {missing}.",
    check_failed: "Cannot check the permissions of {channel} right now; try again later.",
    permission_names: [
        "View Channel",
        "Send Messages",
        "Embed Links",
        "Read Message History",
    ],
};

impl Lang {
    /// Discord's `channel:` refusals in this language.
    pub fn channel_option(self) -> &'static ChannelOptionTexts {
        match self {
            Lang::ZhTw => &CHANNEL_OPTION_ZH_TW,
            Lang::En => &CHANNEL_OPTION_EN,
        }
    }
}

/// Fills `{name}` placeholders in one pass, so a value (which may be user
/// text) is never itself treated as a template.
pub fn fill(template: &str, values: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        match after.find('}').and_then(|close| {
            let key = &after[..close];
            values
                .iter()
                .find(|(k, _)| *k == key)
                .map(|(_, v)| (close, *v))
        }) {
            Some((close, v)) => {
                out.push_str(v);
                rest = &after[close + 1..];
            }
            None => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn languages_from_codes() {
        assert_eq!(Lang::from_code("en-US"), Some(Lang::En));
        assert_eq!(Lang::from_code("zh-TW"), Some(Lang::ZhTw));
        assert_eq!(Lang::from_code("ja"), None);
        assert_eq!(
            fill("#{id}: {board}", &[("id", "{board}"), ("board", "Stock")]),
            "#{board}: Stock"
        );
    }
}
