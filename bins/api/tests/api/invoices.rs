//! Invoices over real HTTP: the 数电发票 bulk-issue workbook of a period (joint invoices of
//! colleagues, a personal invoice, a 专票 with bank details) read back cell by cell, the
//! issued numbers imported with the columns in another order, and a refund after issue
//! flagging the invoice for 冲红.

use std::io::Cursor;

use calamine::{Data, Reader, Xlsx, open_workbook_from_rs};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::{Staff, TestApp, TestDb, WHITE, form, id_photo, profile_body};

crate::on_both_backends!(
    the_bulk_issue_workbook_read_back_cell_by_cell,
    issued_numbers_come_back_and_a_refund_after_issue_flags_reversal,
);

const BUYER: &str = "福建某监理有限公司";
const BUYER_TAX_ID: &str = "91350100M000100Y43";

/// A participant named `name` with a profile and a photo: (token, photo id).
async fn participant(app: &TestApp, n: u32, name: &str) -> (String, String) {
    let token = app.login(&format!("user{n}")).await;
    let mut body = profile_body(n);
    body["name"] = json!(name);
    let (status, saved) = app.put("/api/v1/profile", &token, body).await;
    assert_eq!(status, StatusCode::OK, "{saved}");
    let (status, photo) = app.upload(&token, id_photo(590, 826, WHITE), "me.jpg").await;
    assert_eq!(status, StatusCode::CREATED, "{photo}");
    (token, photo["id"].as_str().expect("photo").to_owned())
}

/// Registers participant `n` (named `name`) with invoice title `title` (joint or not); the
/// admin approves and finance confirms the employer's transfer: (token, registration id).
async fn paid_with_title(
    app: &TestApp,
    admin: &Staff,
    finance: &Staff,
    n: u32,
    name: &str,
    title: Value,
    joint: bool,
) -> (String, String) {
    let (token, photo) = participant(app, n, name).await;
    let (status, saved) = app.post("/api/v1/invoice-titles", &token, title).await;
    assert_eq!(status, StatusCode::CREATED, "{saved}");
    let period = app.period(&token).await;
    let mut body = form(&period, &photo, 0, "exempt_basic");
    body["invoice_title_id"] = saved["id"].clone();
    body["joint_invoice"] = json!(joint);
    if joint {
        body["joint_invoice_remark"] = json!("与单位同事合开");
    }
    let (status, view) = app.post("/api/v1/registrations", &token, body).await;
    assert_eq!(status, StatusCode::CREATED, "{view}");
    let id = view["id"].as_str().expect("id").to_owned();
    let approve = format!("/api/v1/admin/registrations/{id}/approve");
    assert_eq!(app.admin(Method::POST, &approve, Some(admin), None).await.0, StatusCode::OK);
    let confirm = json!({"registration_ids": [id], "amount_yuan": view["fee_yuan"]});
    let (status, body) = app
        .admin(Method::POST, "/api/v1/admin/transfers/confirm", Some(finance), Some(confirm))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    (token, id)
}

fn company() -> Value {
    json!({"kind": "company", "name": BUYER, "tax_id": BUYER_TAX_ID, "email": "caiwu@example.com"})
}

fn special() -> Value {
    json!({
        "kind": "company", "invoice_type": "special", "name": "厦门某工程咨询有限公司",
        "tax_id": "914403001922038216", "address": "厦门市思明区某路1号", "phone": "0592-1234567",
        "bank": "中国银行厦门分行", "bank_account": "4101 2345 6789", "email": "fp@example.com"
    })
}

/// Three colleagues (joint), a personal title, a 专票: (period id, [(token, id)…], fee fen).
async fn world(
    app: &TestApp,
    admin: &Staff,
    finance: &Staff,
) -> (String, Vec<(String, String)>, i64) {
    let mut people = Vec::new();
    for (n, name) in [(1, "张三"), (2, "李四"), (3, "王五")] {
        people.push(paid_with_title(app, admin, finance, n, name, company(), true).await);
    }
    let own = json!({"kind": "personal", "name": "赵六"});
    people.push(paid_with_title(app, admin, finance, 4, "赵六", own, false).await);
    people.push(paid_with_title(app, admin, finance, 5, "钱七", special(), false).await);
    let period = app.period(&people[0].0).await;
    let (_, view) = app.get(&format!("/api/v1/registrations/{}", people[0].1), &people[0].0).await;
    let fee = view["fee_fen"].as_i64().expect("fee");
    (period["id"].as_str().expect("period").to_owned(), people, fee)
}

async fn export(app: &TestApp, finance: &Staff, period: &str, body: Value) -> (StatusCode, Value) {
    app.admin(
        Method::POST,
        &format!("/api/v1/admin/periods/{period}/invoice-exports"),
        Some(finance),
        Some(body),
    )
    .await
}

/// Downloads a workbook's bytes.
async fn download(
    app: &TestApp,
    staff: &Staff,
    path: &str,
) -> (StatusCode, Option<String>, Vec<u8>) {
    let res =
        app.http.get(app.url(path)).header("cookie", &staff.cookie).send().await.expect("download");
    let status = res.status();
    let kind = res.headers().get("content-type").and_then(|v| v.to_str().ok()).map(str::to_owned);
    (status, kind, res.bytes().await.expect("bytes").to_vec())
}

/// A sheet as a grid of cells by 0-based (row, column) from A1.
struct Grid(Vec<Vec<Data>>);

impl Grid {
    fn get(&self, row: usize, col: usize) -> &Data {
        self.0.get(row).and_then(|r| r.get(col)).unwrap_or(&Data::Empty)
    }

    /// A text cell's text (`""` when empty); any other kind of cell fails the test.
    fn text(&self, row: usize, col: usize) -> &str {
        match self.get(row, col) {
            Data::String(s) => s,
            Data::Empty => "",
            other => panic!("cell ({row}, {col}) is not text: {other:?}"),
        }
    }
}

fn open(xlsx: &[u8]) -> (Vec<String>, Vec<Grid>) {
    let mut workbook: Xlsx<_> = open_workbook_from_rs(Cursor::new(xlsx.to_vec())).expect("xlsx");
    let names = workbook.sheet_names();
    let grids = names
        .iter()
        .map(|name| {
            let range = workbook.worksheet_range(name).expect("sheet");
            let (r0, c0) = range.start().unwrap_or((0, 0));
            let (r0, c0) = (r0 as usize, c0 as usize);
            let mut rows = vec![vec![Data::Empty; c0 + range.width()]; r0 + range.height()];
            for (r, c, value) in range.used_cells() {
                rows[r0 + r][c0 + c] = value.clone();
            }
            Grid(rows)
        })
        .collect();
    (names, grids)
}

const BASIC_HEADERS: [&str; 39] = [
    "发票流水号",
    "发票类型",
    "特定业务类型",
    "是否含税",
    "受票方自然人标识",
    "购买方名称",
    "购买方纳税人识别号",
    "购买方证件类型",
    "购买方证件号码",
    "购买方国籍（或地区）",
    "购买方地址",
    "购买方所在地区（报废产品收购必填）",
    "",
    "",
    "",
    "购买方详细地址（报废产品收购必填）",
    "购买方电话",
    "购买方开户银行",
    "购买方银行账号",
    "是否展示购买方地址电话银行账号",
    "是否开具涉税专业服务发票品目",
    "涉税专业服务协议编号",
    "备注",
    "报废产品销售类型",
    "每千克煤炭发热量",
    "干基全硫",
    "干燥无灰基挥发分",
    "销售方开户行",
    "销售方银行账号",
    "是否展示销售方地址电话银行账号",
    "购买方邮箱",
    "购买方经办人姓名",
    "购买方经办人证件类型",
    "购买方经办人证件号码",
    "经办人国籍(地区)",
    "经办人自然人纳税人识别号",
    "放弃享受减按1%征收率原因",
    "收款人",
    "复核人",
];

const DETAIL_HEADERS: [&str; 14] = [
    "发票流水号",
    "项目名称",
    "商品和服务税收编码",
    "规格型号",
    "单位",
    "数量",
    "单价",
    "金额",
    "税率",
    "折扣金额",
    "是否使用优惠政策",
    "优惠政策类型",
    "即征即退类型",
    "煤炭种类",
];

fn yuan(fen: i64) -> String {
    format!("{}.{:02}", fen / 100, fen % 100)
}

async fn the_bulk_issue_workbook_read_back_cell_by_cell(app: TestApp) {
    let admin = app.staff("admin1", "admin").await;
    let finance = app.staff("finance1", "finance").await;
    let (period, people, fee) = world(&app, &admin, &finance).await;

    // Settings: the defaults until finance saves the period's own (a reminder comes along).
    let settings = format!("/api/v1/admin/periods/{period}/invoice-settings");
    let (status, got) = app.admin(Method::GET, &settings, Some(&finance), None).await;
    assert_eq!(status, StatusCode::OK, "{got}");
    assert_eq!(
        (got["source"].as_str(), got["item_name"].as_str()),
        (Some("default"), Some("*非学历教育服务*培训费"))
    );
    assert!(got["notice"].as_str().expect("notice").contains("确认"));
    let (status, body) = app
        .admin(Method::PUT, &settings, Some(&finance), Some(json!({"tax_code": "307020102"})))
        .await;
    assert_eq!(
        (status, body["fields"][0]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("tax_code"))
    );
    let (status, got) = app
        .admin(
            Method::PUT,
            &settings,
            Some(&finance),
            Some(json!({"tax_rate": "6%", "prices_include_tax": true})),
        )
        .await;
    assert_eq!(
        (status, got["source"].as_str(), got["tax_rate"].as_str()),
        (StatusCode::OK, Some("period"), Some("6%"))
    );

    // The participant sees 待开票 before anything is exported.
    let (token, id) = &people[0];
    let (_, view) = app.get(&format!("/api/v1/registrations/{id}"), token).await;
    assert_eq!(view["invoice_status"]["label"], "待开票", "{view}");

    let (status, made) = export(&app, &finance, &period, json!({})).await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    assert_eq!((made["invoices"].as_u64(), made["registrations"].as_u64()), (Some(3), Some(5)));
    let url = made["workbook_url"].as_str().expect("url").to_owned();
    let (status, kind, xlsx) = download(&app, &finance, &url).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        kind.as_deref(),
        Some("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    );

    let (names, grids) = open(&xlsx);
    assert_eq!(names, ["1-发票基本信息", "2-发票明细信息"]);
    let (basic, detail) = (&grids[0], &grids[1]);
    // Row 3: the headers, every one a text cell (the merged region header in its first cell).
    for (col, header) in BASIC_HEADERS.iter().enumerate() {
        assert_eq!(basic.text(2, col), *header, "sheet 1 column {col}");
    }
    for (col, header) in DETAIL_HEADERS.iter().enumerate() {
        assert_eq!(detail.text(2, col), *header, "sheet 2 column {col}");
    }
    // Rows 4–6: one per invoice, every cell text.
    assert_eq!(basic.0.len(), 6, "three invoices from row 4");
    assert_eq!(detail.0.len(), 6);
    for grid in [basic, detail] {
        for row in 3..grid.0.len() {
            for col in 0..grid.0[row].len() {
                assert!(
                    matches!(grid.get(row, col), Data::String(_) | Data::Empty),
                    "({row}, {col}): {:?}",
                    grid.get(row, col)
                );
            }
        }
    }
    let row_of = |buyer: &str| (3..6).find(|r| basic.text(*r, 5) == buyer).expect(buyer);
    let detail_row = |serial: &str| (3..6).find(|r| detail.text(*r, 0) == serial).expect(serial);

    // The joint invoice: one row, the three names in the remark, amount = the sum.
    let joint = row_of(BUYER);
    let serial = basic.text(joint, 0);
    assert!(serial.starts_with("FP") && serial.len() == 14, "{serial}");
    assert_eq!(basic.text(joint, 1), "普通发票");
    assert_eq!(basic.text(joint, 3), "是");
    assert_eq!(basic.text(joint, 4), "否");
    assert_eq!(basic.text(joint, 6), BUYER_TAX_ID);
    assert_eq!(basic.text(joint, 30), "caiwu@example.com");
    let remark = basic.text(joint, 22);
    let period_name = app.period(token).await["name"].as_str().expect("name").to_owned();
    assert_eq!(remark, format!("{period_name}：张三、李四、王五"));
    let line = detail_row(serial);
    assert_eq!(detail.text(line, 1), "*非学历教育服务*培训费");
    assert_eq!(detail.text(line, 2), "3070201020000000000");
    assert_eq!(detail.text(line, 4), "人");
    assert_eq!(detail.text(line, 5), "3");
    assert_eq!(detail.text(line, 6), yuan(fee));
    assert_eq!(detail.text(line, 7), yuan(3 * fee));
    assert_eq!(detail.text(line, 8), "0.06");

    // The personal invoice: a natural person, no tax ID, the person's own fee.
    let own = row_of("赵六");
    assert_eq!(
        (basic.text(own, 1), basic.text(own, 4), basic.text(own, 6)),
        ("普通发票", "是", "")
    );
    assert_eq!(basic.text(own, 22), format!("{period_name}：赵六"));
    assert_eq!(detail.text(detail_row(basic.text(own, 0)), 7), yuan(fee));

    // The 专票: its bank details, shown.
    let vat = row_of("厦门某工程咨询有限公司");
    assert_eq!(basic.text(vat, 1), "增值税专用发票");
    assert_eq!(basic.text(vat, 4), "否");
    assert_eq!(basic.text(vat, 6), "914403001922038216");
    assert_eq!(basic.text(vat, 10), "厦门市思明区某路1号");
    assert_eq!(basic.text(vat, 16), "0592-1234567");
    assert_eq!(basic.text(vat, 17), "中国银行厦门分行");
    assert_eq!(basic.text(vat, 18), "410123456789");
    assert_eq!(basic.text(vat, 19), "展示地址、电话、开户银行及银行账号");

    // Downloaded again: the same bytes. Exported again: nothing new (409); including what was
    // exported and not issued: the same serials.
    let (_, _, again) = download(&app, &finance, &url).await;
    assert_eq!(again, xlsx);
    let (status, body) = export(&app, &finance, &period, json!({})).await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::CONFLICT, Some("nothing_to_invoice")));
    let (status, made) = export(&app, &finance, &period, json!({"not_yet_exported": false})).await;
    assert_eq!((status, made["new_invoices"].as_u64()), (StatusCode::CREATED, Some(0)), "{made}");
    let (_, _, xlsx2) = download(&app, &finance, made["workbook_url"].as_str().expect("url")).await;
    let (_, grids2) = open(&xlsx2);
    let mut first: Vec<&str> = (3..6).map(|r| basic.text(r, 0)).collect();
    let mut second: Vec<&str> = (3..6).map(|r| grids2[0].text(r, 0)).collect();
    first.sort_unstable();
    second.sort_unstable();
    assert_eq!(first, second);
    let (_, listed) = app
        .admin(
            Method::GET,
            &format!("/api/v1/admin/invoice-exports?period_id={period}"),
            Some(&finance),
            None,
        )
        .await;
    assert_eq!(listed.as_array().expect("exports").len(), 2);
    let (_, invoices) =
        app.admin(Method::GET, "/api/v1/admin/invoices?state=exported", Some(&finance), None).await;
    let joint_row = invoices
        .as_array()
        .expect("invoices")
        .iter()
        .find(|i| i["kind"] == "joint")
        .expect("joint");
    assert_eq!(joint_row["covers"].as_array().expect("covers").len(), 3);
    assert_eq!(joint_row["amount_fen"].as_i64(), Some(3 * fee));
    // Only finance; audited.
    let reviewer = app.staff("reviewer1", "reviewer").await;
    assert_eq!(export(&app, &reviewer, &period, json!({})).await.0, StatusCode::FORBIDDEN);
    let (_, audit) = app.admin(Method::GET, "/api/v1/admin/audit", Some(&admin), None).await;
    for action in ["invoice_export", "invoice_settings_update"] {
        assert!(audit.to_string().contains(action), "{action}");
    }
}

/// The bureau's workbook of issued invoices: a title row, then headers in another order than
/// ours (with a column we do not read), then the rows.
fn issued_workbook(rows: &[(&str, &str, &str)]) -> Vec<u8> {
    let mut workbook = rust_xlsxwriter::Workbook::new();
    let sheet = workbook.add_worksheet();
    sheet.write_string(0, 0, "数电发票开具结果").expect("title");
    for (col, header) in
        ["开票日期", "购买方名称", "数电发票号码", "价税合计", "发票流水号"].iter().enumerate()
    {
        sheet.write_string(1, col as u16, *header).expect("header");
    }
    for (i, (serial, number, date)) in rows.iter().enumerate() {
        let row = 2 + i as u32;
        sheet.write_string(row, 0, *date).expect("date");
        sheet.write_string(row, 1, "某购买方").expect("buyer");
        sheet.write_string(row, 2, *number).expect("number");
        sheet.write_string(row, 3, "680.00").expect("amount");
        sheet.write_string(row, 4, *serial).expect("serial");
    }
    workbook.save_to_buffer().expect("xlsx")
}

async fn import(app: &TestApp, finance: &Staff, xlsx: Vec<u8>) -> (StatusCode, Value) {
    let res = app
        .http
        .post(app.url("/api/v1/admin/invoices/import"))
        .header("cookie", &finance.cookie)
        .header("x-csrf-token", &finance.csrf)
        .header("content-type", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
        .body(xlsx)
        .send()
        .await
        .expect("import");
    let status = res.status();
    (status, res.json().await.unwrap_or(Value::Null))
}

async fn issued_numbers_come_back_and_a_refund_after_issue_flags_reversal(app: TestApp) {
    let admin = app.staff("admin1", "admin").await;
    let finance = app.staff("finance1", "finance").await;
    let (period, people, _) = world(&app, &admin, &finance).await;
    let (status, made) = export(&app, &finance, &period, json!({})).await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    let (_, invoices) = app
        .admin(
            Method::GET,
            &format!("/api/v1/admin/invoices?export_id={}", made["id"].as_str().expect("id")),
            Some(&finance),
            None,
        )
        .await;
    let invoices = invoices.as_array().expect("invoices").clone();
    assert_eq!(invoices.len(), 3);
    let serial_of = |kind: &str, buyer: &str| {
        invoices.iter().find(|i| i["kind"] == kind && i["buyer"]["name"] == buyer).expect("invoice")
            ["serial"]
            .as_str()
            .expect("serial")
            .to_owned()
    };
    let joint = serial_of("joint", BUYER);
    let own = serial_of("single", "赵六");

    // Not a workbook: 422. The bureau's workbook, columns shuffled: matched by serial; a row
    // that matches nothing and a row that cannot be read are reported.
    let (status, body) = import(&app, &finance, b"not a workbook".to_vec()).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("not_a_workbook"))
    );
    // Larger than the upload limit (10 MiB + 64 KiB): 413 with the JSON error body.
    let (status, body) = import(&app, &finance, vec![0; 11 * 1024 * 1024]).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::PAYLOAD_TOO_LARGE, Some("upload_too_large"))
    );
    let xlsx = issued_workbook(&[
        (&joint, "26352000000000000101", "2026-11-28"),
        (&own, "26352000000000000102", "2026/11/28"),
        ("FP209901000999", "26352000000000000103", "2026-11-28"),
        (&own, "123", "2026-11-28"),
    ]);
    let (status, report) = import(&app, &finance, xlsx).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(report["header_row"], 2);
    assert_eq!(report["issued"], 2, "{report}");
    assert_eq!(report["not_recorded"], 2, "{report}");
    let outcome = |serial: &str| {
        report["rows"]
            .as_array()
            .expect("rows")
            .iter()
            .find(|r| r["serial"] == serial)
            .expect("row")["outcome"]
            .as_str()
            .expect("outcome")
            .to_owned()
    };
    assert_eq!(outcome(&joint), "issued");
    assert_eq!(outcome("FP209901000999"), "unknown_serial");
    assert_eq!(report["problems"][0]["row"], 6, "{report}");
    assert_eq!(report["problems"][0]["codes"][0], "invalid_number");

    // My exams: 已开票 and the number.
    let (token, id) = &people[1];
    let (_, view) = app.get(&format!("/api/v1/registrations/{id}"), token).await;
    assert_eq!(view["invoice_status"]["label"], "已开票", "{view}");
    assert_eq!(view["invoice_status"]["number"], "26352000000000000101");
    assert_eq!(view["invoice_status"]["issued_on"], "2026-11-28");

    // 李四 is refunded (transfer-paid: finance returns it by hand): the joint invoice is
    // flagged for 冲红 as a whole, 李四 named.
    let (status, _) = app
        .post(
            &format!("/api/v1/registrations/{id}/refund-request"),
            token,
            json!({"reason": "单位另派他人"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let approve = format!("/api/v1/admin/registrations/{id}/approve-refund");
    assert_eq!(app.admin(Method::POST, &approve, Some(&finance), None).await.0, StatusCode::OK);
    let (_, rows) = app
        .admin(Method::GET, "/api/v1/admin/refund-requests?state=refunding", Some(&finance), None)
        .await;
    assert_eq!(rows[0]["refund"]["actions"], json!(["returned"]), "{rows}");
    let refund = rows[0]["refund"]["id"].as_str().expect("refund").to_owned();
    let (status, body) = app
        .admin(
            Method::POST,
            &format!("/api/v1/admin/refunds/{refund}/returned"),
            Some(&finance),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, view) = app.get(&format!("/api/v1/registrations/{id}"), token).await;
    assert_eq!(view["state"], "refunded");
    assert_eq!(view["invoice_status"]["label"], "已开票（待冲红）", "{view}");

    let (status, reversals) =
        app.admin(Method::GET, "/api/v1/admin/invoices/reversals", Some(&finance), None).await;
    assert_eq!(status, StatusCode::OK, "{reversals}");
    let reversals = reversals.as_array().expect("reversals").clone();
    assert_eq!(reversals.len(), 1);
    assert_eq!(reversals[0]["invoice"]["serial"], joint.as_str());
    assert_eq!(reversals[0]["invoice"]["number"], "26352000000000000101");
    assert_eq!(reversals[0]["left"], json!(["李四"]));
    let what = reversals[0]["what_to_reverse"].as_str().expect("what");
    assert!(what.contains("合开发票整张冲红") && what.contains("李四已退款"), "{what}");

    // Finance reverses it: off the list; the two who stay are invoiced anew.
    let invoice = reversals[0]["invoice"]["id"].as_str().expect("id");
    let reversed = format!("/api/v1/admin/invoices/{invoice}/reversed");
    let (status, body) = app
        .admin(
            Method::POST,
            &reversed,
            Some(&finance),
            Some(json!({"note": "红字发票 26352000000000000199"})),
        )
        .await;
    assert_eq!((status, body["state"].as_str()), (StatusCode::OK, Some("reversed")), "{body}");
    let (_, reversals) =
        app.admin(Method::GET, "/api/v1/admin/invoices/reversals", Some(&finance), None).await;
    assert!(reversals.as_array().expect("reversals").is_empty());
    let (status, made) = export(&app, &finance, &period, json!({})).await;
    assert_eq!(
        (status, made["new_invoices"].as_u64(), made["registrations"].as_u64()),
        (StatusCode::CREATED, Some(1), Some(2)),
        "{made}"
    );
    let (_, view) = app.get(&format!("/api/v1/registrations/{id}"), token).await;
    assert_eq!(view["invoice_status"]["label"], "已冲红");
    let (_, audit) = app.admin(Method::GET, "/api/v1/admin/audit", Some(&admin), None).await;
    for action in ["invoice_import", "invoice_reversed", "refund_returned"] {
        assert!(audit.to_string().contains(action), "{action}");
    }
}
