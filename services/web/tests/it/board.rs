//! The supervisors' views: the deadline board (counts, the overdue rows, ETag), the CSV
//! export, the proposal page with its timeline and history verification, statistics.

use crate::support::{spawn_app, KEY};

#[tokio::test]
async fn the_supervisor_finds_the_overdue_opinions_and_opens_the_timeline() {
    let app = spawn_app().await;
    let client = app.signed_in("supervisor").await;
    let board = app.get(&client, "/board").await;
    assert_eq!(board.status, 200);
    // The two co-handlers' opinions were due on 2020-02-20.
    assert!(
        board.text.contains("data-count=\"overdue\">2<"),
        "{}",
        board.text
    );
    assert!(board.text.contains("已逾期"));
    assert!(board
        .text
        .contains(&format!("data-proposal=\"{KEY}\" data-agency=\"cq-jw\"")));
    assert!(board.text.contains("重点督办"));

    let cppcc = app.get(&client, "/board?definition=cppcc-proposal").await;
    assert!(
        cppcc.text.contains("data-count=\"overdue\">0<"),
        "{}",
        cppcc.text
    );
    let ours = app
        .get(&client, "/board?definition=chongqing-deputy-suggestion")
        .await;
    assert!(ours.text.contains("data-count=\"overdue\">2<"));
    let only_late = app.get(&client, "/board?overdue=yes&agency=cq-czj").await;
    assert!(only_late.text.contains("data-agency=\"cq-czj\""));
    assert!(!only_late.text.contains("data-agency=\"cq-jw\""));
    // No reply is sent yet, so no deadline is of a result class.
    let replied_a = app.get(&client, "/board?class=A").await;
    assert!(replied_a.text.contains("data-count=\"overdue\">0<"));
    assert!(replied_a.text.contains("<option value=\"A\" selected>"));
    // This supervisor watches one jurisdiction: no choice to offer. The admin watches the
    // three shipped ones, and narrows to one.
    assert!(!board.text.contains("name=\"jurisdiction\""));
    let admin = app.signed_in("admin").await;
    for (code, overdue) in [("", 2), ("cq", 2), ("cq-zx", 0)] {
        let narrowed = app
            .get(&admin, &format!("/board?jurisdiction={code}"))
            .await;
        assert_eq!(narrowed.status, 200, "{}", narrowed.text);
        assert!(narrowed.text.contains("name=\"jurisdiction\""));
        assert!(
            narrowed
                .text
                .contains(&format!("data-count=\"overdue\">{overdue}<")),
            "{code}: {}",
            narrowed.text
        );
    }
    let unknown = app.get(&admin, "/board?jurisdiction=nowhere").await;
    assert_eq!(unknown.status, 400, "{}", unknown.text);

    // The search by agency and by the days of assignment.
    for (query, found) in [
        ("agency=cq-jw", true),
        ("agency=cq-fgw", false),
        ("from=2020-01-20&to=2020-01-20", true),
        ("from=2020-01-21", false),
        ("to=2020-01-19", false),
    ] {
        let search = app.get(&client, &format!("/proposals?{query}")).await;
        assert_eq!(search.status, 200, "{query}: {}", search.text);
        assert_eq!(
            search.text.contains(&format!("href=\"/proposals/{KEY}\"")),
            found,
            "{query}: {}",
            search.text
        );
    }
    let bad_day = app.get(&client, "/proposals?from=yesterday").await;
    assert_eq!(bad_day.status, 400, "{}", bad_day.text);
    assert!(bad_day.text.contains("yesterday"));

    let page = app.get(&client, &format!("/proposals/{KEY}")).await;
    assert_eq!(page.status, 200, "{}", page.text);
    assert!(page
        .text
        .contains("关于对渝东南地区制造企业科学研究大力扶持的建议"));
    assert!(page.text.contains("data-event=\"assign\""), "{}", page.text);
    assert!(page.text.contains("协办意见期限：2020-02-20"));
    assert!(page.text.contains("class=\"verify ok\""), "{}", page.text);
    let record = "data-agency=\"cq-jw\" data-deadline=\"co_handler_opinion\"";
    let at = page.text.find(record).unwrap();
    assert!(page.text[at..].contains("data-standing=\"overdue\""));
}

#[tokio::test]
async fn an_unchanged_board_answers_304_to_its_etag_in_the_same_session_only() {
    let app = spawn_app().await;
    let client = app.signed_in("supervisor").await;
    let board = app.get(&client, "/board").await;
    let etag = board.headers["etag"].to_str().unwrap().to_owned();
    let board_if_changed = |client: reqwest::Client| {
        let request = client.get(app.url("/board")).header("if-none-match", &etag);
        async move { request.send().await.unwrap() }
    };
    assert_eq!(
        board_if_changed(client.clone()).await.status().as_u16(),
        304
    );
    // The admin's board lists the same rows, but the page around them is the admin's.
    let other = board_if_changed(app.signed_in("admin").await).await;
    assert_eq!(other.status().as_u16(), 200);
    assert_eq!(other.headers()["vary"], "Cookie");
}

#[tokio::test]
async fn the_csv_export_has_a_bom_and_one_row_per_deadline() {
    let app = spawn_app().await;
    let client = app.signed_in("supervisor").await;
    let csv = client
        .get(app.url("/board.csv?overdue=yes"))
        .send()
        .await
        .unwrap();
    assert_eq!(csv.status().as_u16(), 200);
    assert!(csv.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/csv"));
    let bytes = csv.bytes().await.unwrap();
    assert!(bytes.starts_with(&[0xEF, 0xBB, 0xBF]));
    let text = String::from_utf8(bytes[3..].to_vec()).unwrap();
    let rows: Vec<&str> = text.lines().collect();
    assert_eq!(rows.len(), 3, "{text}");
    assert!(rows[0].starts_with("建议/提案,承办单位"));
    assert_eq!(
        rows[1],
        format!("{KEY},cq-jw,协办,待签收,协办意见期限,2020-02-20,-4,是,否,是,市五届人大三次会议")
    );
    assert!(
        rows[2].starts_with(&format!("{KEY},cq-czj,协办,")),
        "{}",
        rows[2]
    );
}

#[tokio::test]
async fn statistics_show_every_agency_with_bars() {
    let app = spawn_app().await;
    let client = app.signed_in("supervisor").await;
    let page = app.get(&client, "/statistics").await;
    assert_eq!(page.status, 200);
    assert!(page.text.contains("data-agency=\"cq-kjj\""));
    assert!(page.text.contains("<svg"));
    let csv = client.get(app.url("/statistics.csv")).send().await.unwrap();
    let text = csv.text().await.unwrap();
    assert!(
        text.starts_with("\u{feff}单位,承办件数,协办件数,办结,办结率"),
        "{text}"
    );
    assert!(text.contains("\r\n全部,1,2,0,0.0%,"), "{text}");
    assert!(text.contains("\r\ncq-kjj,1,0,"), "{text}");
    // The month-by-month trend, and its CSV.
    assert!(page.text.contains("id=\"trend-chart\""), "{}", page.text);
    let trend = client
        .get(app.url("/statistics/trend.csv?from=2020-01-01&to=2020-03-31"))
        .send()
        .await
        .unwrap();
    let text = trend.text().await.unwrap();
    assert!(text.starts_with("\u{feff}月份,交办件数,"), "{text}");
    assert_eq!(text.lines().count(), 4, "{text}");
    // A session narrows the figures: none of this one.
    let other = app
        .get(&client, "/statistics?session=%E5%88%AB%E7%9A%84")
        .await;
    assert_eq!(other.status, 200);
    assert!(!other.text.contains("data-agency=\"cq-kjj\""));
    let bad = app.get(&client, "/statistics?from=yesterday").await;
    assert_eq!(bad.status, 400);
}
