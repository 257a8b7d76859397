"""Builds tests/corpus/extract_cases.yaml (run once; the YAML is the reviewed artifact)."""
import random, yaml

rnd = random.Random(20261128)
cases = []

def N(kind, number, **kw):
    d = {"kind": kind, "number": number}
    d.update(kw)
    return d

def case(name, page, numbers, trap=False, **kw):
    c = {"name": name}
    if trap:
        c["trap"] = True
    c.update(kw)
    c["page"] = page
    c["expect"] = numbers
    cases.append(c)

MIIT = "https://beian.miit.gov.cn/"
def foot(inner):
    return f"<html><body><div class=\"main\"><p>欢迎访问本站</p></div><footer>{inner}</footer></body></html>"
def serial(n=6):
    while True:
        s = "".join(rnd.choice("0123456789") for _ in range(n))
        if len(set(s)) > 2 and "0000" not in s and s not in ("123456","000001"):
            return s

PROVS = [("11","京","京","110105"),("12","津","津","120101"),("13","冀","冀","130102"),("14","晋","晋","140105"),
("15","蒙","蒙","150102"),("21","辽","辽","210102"),("22","吉","吉","220102"),("23","黑","黑","230102"),
("31","沪","沪","310115"),("32","苏","苏","320114"),("33","浙","浙","330106"),("34","皖","皖","340104"),
("35","闽","闽","350102"),("36","赣","赣","360102"),("37","鲁","鲁","370281"),("41","豫","豫","410105"),
("42","鄂","鄂","420106"),("43","湘","湘","430111"),("44","粤","粤","440305"),("45","桂","桂","450103"),
("46","琼","琼","460106"),("50","渝","渝","500103"),("51","蜀","川","510105"),("52","黔","贵","520102"),
("53","滇","滇","530102"),("54","藏","藏","540102"),("61","陕","陕","610113"),("62","陇","甘","620102"),
("63","青","青","630104"),("64","宁","宁","640104"),("65","新","新","650102")]

# ---- A: every province, ICP filing + PSB filing, linked, in a footer ----
for i, (code, icp, psb, div) in enumerate(PROVS):
    year = 2020 + i % 7
    icpn = f"{icp}ICP备{year}{serial()}号-{1 + i % 4}"
    psbn = f"{psb}公网安备{div}02{serial(6)}号"
    psb_digits = psbn[5:-1]
    page = foot(f'<a href="{MIIT}" target="_blank">{icpn}</a> '
                f'<a href="http://www.beian.gov.cn/portal/registerSystemInfo?recordcode={psb_digits}">{psbn}</a>')
    case(f"province-{code}-icp-and-psb", page, [
        N("icp_filing", icpn, valid=True, placeholder=False, linked=True, location="footer", own=True, province=code, problems=[]),
        N("psb_filing", psbn, valid=True, placeholder=False, linked=True, location="footer", province=code, problems=[]),
    ])

# licences for a spread of provinces (everyday licence chars 川/贵/甘 are standard for licences)
for code, ch, num in [("33","浙","20080101"),("44","粤","20090059"),("11","京","20202418"),("35","闽","20090074"),
                      ("32","苏","20130048"),("51","川","20180056"),("52","贵","20170021"),("62","甘","20190012"),
                      ("53","滇","20160033"),("61","陕","20150047")]:
    case(f"licence-vats-{code}-{ch}", foot(f"增值电信业务经营许可证：{ch}B2-{num}"),
         [N("telecom_licence", f"{ch}B2-{num}", valid=True, placeholder=False, linked=False, location="footer", province=code, problems=[])])
for code, ch, d in [("11","京","030173"),("44","粤","060245"),("31","沪","100588"),("33","浙","130164"),("51","蜀","080177")]:
    case(f"licence-icp-{code}", foot(f'<a href="{MIIT}">{ch}ICP证{d}号</a>'),
         [N("icp_licence", f"{ch}ICP证{d}号", valid=True, linked=True, location="footer", province=code, problems=[])])

# ---- B: alternates and non-mainland ----
for ch, code, d in [("川","51","15095485"),("贵","52","06052086"),("云","53","2021004521"),("甘","62","14018586"),("秦","61","2023004118")]:
    case(f"alternate-icp-prefix-{ch}", foot(f'<a href="{MIIT}">{ch}ICP备{d}号</a>'),
         [N("icp_filing", f"{ch}ICP备{d}号", valid=True, placeholder=False, province=code, problems=["nonstandard_prefix"])])
for ch, code, d in [("蜀","51","51010502010606"),("黔","52","52052302000396"),("陇","62","62090202000584")]:
    case(f"alternate-psb-prefix-{ch}", foot(f"{ch}公网安备{d}号"),
         [N("psb_filing", f"{ch}公网安备{d}号", valid=True, province=code, problems=["nonstandard_prefix"])])
for ch, code in [("台","71"),("港","81"),("澳","82")]:
    case(f"non-mainland-icp-prefix-{ch}", foot(f"{ch}ICP备2021034567号"),
         [N("icp_filing", f"{ch}ICP备2021034567号", valid=False, placeholder=False, province=code, problems=["non_mainland_prefix"])])
case("fake-prefix-hu", foot("湖ICP备2018284129号"),
     [N("icp_filing", "湖ICP备2018284129号", valid=False, province=None, problems=["unknown_prefix", "early_long_format"])], trap=True)
case("psb-prefix-hong-kong", foot("港公网安备81000002000123号"),
     [N("psb_filing", "港公网安备81000002000123号", valid=False, province="81")], trap=True)

# ---- C: eras and digit counts ----
ERAS = [
 ("era-8digit-2004", "京ICP备04000213号", True, False, []),
 ("era-8digit-2005", "京ICP备05083646号", True, False, []),
 ("era-8digit-2008", "赣ICP备08101024号", True, False, []),
 ("era-8digit-2012", "京ICP备12034000号-2", True, False, []),
 ("era-8digit-2014", "粤ICP备14023066号", True, False, []),
 ("era-8digit-2020", "豫ICP备20006012号-1", True, False, []),
 ("era-8digit-2021", "粤ICP备21089201号-1", True, False, []),
 ("era-8digit-2023-late", "粤ICP备23012874号", True, False, ["late_short_format"]),
 ("era-8digit-1999", "京ICP备99012874号", False, False, ["implausible_year"]),
 ("era-8digit-future", "京ICP备30012874号", False, True, ["future_year"]),
 ("era-10digit-2020", "京ICP备2020046040号", True, False, []),
 ("era-10digit-2022", "蜀ICP备2022029389号", True, False, []),
 ("era-10digit-2024", "藏ICP备2024003289号-1", True, False, []),
 ("era-10digit-2026", "鲁ICP备2026019556号-1", True, False, []),
 ("era-10digit-2018", "京ICP备2018019108号-1", True, False, ["early_long_format"]),
 ("era-10digit-2019", "京ICP备2019036842号-1", True, False, ["early_long_format"]),
 ("era-10digit-2017", "京ICP备2017036842号", False, False, ["implausible_year"]),
 ("era-10digit-2027-future", "京ICP备2027036842号", False, True, ["future_year"]),
 ("digits-6-filing", "甘ICP备456543号-1", False, False, ["nonstandard_prefix", "digit_count"]),
 ("digits-7-filing", "京ICP备1234568号", False, False, ["digit_count"]),
 ("digits-9-filing", "京ICP备201903684号", False, False, ["digit_count"]),
 ("digits-11-filing", "京ICP备21110142227号", False, False, ["digit_count"]),
]
for name, num, valid, ph, problems in ERAS:
    case(name, foot(num), [N("icp_filing", num, valid=valid, placeholder=ph, problems=problems)], trap=not valid)
for name, num, valid, ph, problems in [
    ("licence-era-2000", "京ICP证000007号", True, False, []),
    ("licence-era-2015", "京ICP证150476号", True, False, []),
    ("licence-future-year", "京ICP证310476号", False, True, ["future_year"]),
    ("licence-digit-count-8", "京ICP证15047612号", False, False, ["digit_count"]),
    ("licence-site-index", "京ICP证040867号-3", True, False, []),
]:
    case(name, foot(num), [N("icp_licence", num, valid=valid, placeholder=ph, problems=problems)], trap=not valid)
for name, num, valid, ph, problems in [
    ("vats-year-2009", "B2-20090008", True, False, []),
    ("vats-year-2025", "京B2-20250011", True, False, []),
    ("vats-year-future", "京B2-20290011", False, True, ["future_year"]),
    ("vats-year-1999", "京B2-19990011", False, False, ["implausible_year"]),
    ("vats-serial-0000", "粤B2-20210000", False, True, ["example_serial"]),
]:
    case(name, foot(f"增值电信业务经营许可证：{num}"), [N("telecom_licence", num, valid=valid, placeholder=ph, problems=problems)], trap=not valid)
for name, num, valid, problems in [
    ("psb-14-digits", "苏公网安备32011402012523号", True, []),
    ("psb-12-digits-old", "京公网安备110105008661号", True, ["old_format"]),
    ("psb-13-digits-old", "浙公网安备3301060200997号", True, ["old_format"]),
    ("psb-15-digits-old", "晋公网安备140110430070001号", True, ["old_format"]),
    ("psb-11-digits", "京公网安备11010500866号", False, ["digit_count"]),
    ("psb-16-digits", "京公网安备1101050086612345号", False, ["digit_count"]),
    ("psb-division-mismatch", "京公网安备44030502008569号", False, ["division_mismatch"]),
    ("psb-unknown-division", "京公网安备99030502008569号", False, ["unknown_division"]),
    ("psb-non-gb-division", "豫公网安备41019702002703号", True, []),
]:
    case(name, foot(num), [N("psb_filing", num, valid=valid, placeholder=False, problems=problems)], trap=not valid)

# ---- D: ICP-DOMAIN §6.1, all 43 rows ----
S61 = [
 ("61-01-baidu", foot('<a href="http://www.beian.gov.cn/portal/registerSystemInfo?recordcode=11000002000001">京公网安备11000002000001号</a> <a href="https://beian.miit.gov.cn">京ICP证030173号</a>'),
  [N("psb_filing","京公网安备11000002000001号", placeholder=False, valid=True, linked=True, problems=[]), N("icp_licence","京ICP证030173号", valid=True, linked=True)], {"base_url": "https://www.baidu.com/"}),
 ("61-02-tencent-cloud", foot('ICP备案/许可证号：<a href="https://beian.miit.gov.cn/">粤B2-20090059</a> <a href="https://beian.mps.gov.cn/#/query/webSearch?code=44030502008569">粤公网安备44030502008569号</a>'),
  [N("telecom_licence","粤B2-20090059", valid=True, linked=True), N("psb_filing","粤公网安备44030502008569号", valid=True, linked=True, href="https://beian.mps.gov.cn/#/query/webSearch?code=44030502008569")], {}),
 ("61-03-licence-and-filing", foot("腾讯云计算(北京)有限责任公司京ICP证150476号 | 京ICP备11018762号"),
  [N("icp_licence","京ICP证150476号", valid=True, own=True), N("icp_filing","京ICP备11018762号", valid=True, own=True)], {}),
 ("61-04-alibaba-d3", foot("增值电信业务经营许可证：浙B2-20080101 域名注册服务机构许可：浙D3-20210002 浙公网安备 33010602009975号"),
  [N("telecom_licence","浙B2-20080101", valid=True), N("psb_filing","浙公网安备33010602009975号", valid=True, raw="浙公网安备 33010602009975号")], {}),
 ("61-05-taobao", foot("网络文化经营许可证：浙网文[2016]0132-032号 | 增值电信业务经营许可证：浙B2-20080224-1 | 信息网络传播视听节目许可证：1109364号"),
  [N("telecom_licence","浙B2-20080224-1", valid=True, site_index="1")], {}),
 ("61-06-volcengine", foot("京公网安备11010802032137号 京ICP备20018813号-3 京B2-20202418，A2.B1.B2-20202637 京网文（2023）4872-140号"),
  [N("psb_filing","京公网安备11010802032137号", valid=True), N("icp_filing","京ICP备20018813号-3", valid=True), N("telecom_licence","京B2-20202418", valid=True), N("telecom_licence","A2.B1.B2-20202637", valid=True, province=None)], {}),
 ("61-07-sina", foot("增值电信业务经营许可证B1.B2-20090108\u3000增值电信业务经营许可证：京ICP证000007号 京公网安备11000002000016号"),
  [N("telecom_licence","B1.B2-20090108", valid=True), N("icp_licence","京ICP证000007号", valid=True), N("psb_filing","京公网安备11000002000016号", valid=True)], {}),
 ("61-08-unicom", foot("经营许可证编号：A2.B1.B2-20090003"), [N("telecom_licence","A2.B1.B2-20090003", valid=True)], {}),
 ("61-09-telecom-spaces", foot("[ 增值电信业务经营许可证 A2.B1.B2-20090001 ] ICP 证号：京 ICP 备 09031924号"),
  [N("telecom_licence","A2.B1.B2-20090001", valid=True), N("icp_filing","京ICP备09031924号", valid=True, raw="京 ICP 备 09031924号")], {}),
 ("61-10-freebuf-href-only-psb", foot('<a href="https://beian.miit.gov.cn/#/Integrated/index">沪ICP备2024099014号</a> | <a href="http://www.beian.gov.cn/portal/registerSystemInfo?recordcode=31011502009321">沪公安网备 <img src="/ga.png"></a>'),
  [N("icp_filing","沪ICP备2024099014号", valid=True, linked=True), N("psb_filing","沪公网安备31011502009321号", valid=True, linked=True, raw="31011502009321", location="footer")], {}),
 ("61-11-jv-licence", foot("沪ICP备13044278号 | 合字B1.B2-20130004"), [N("icp_filing","沪ICP备13044278号", valid=True), N("telecom_licence","合字B1.B2-20130004", valid=True, province=None)], {}),
 ("61-12-cross-regional", foot("增值电信业务经营许可证：B2-20080207"), [N("telecom_licence","B2-20080207", valid=True, province=None)], {}),
 ("61-13-quanwang", foot("增值电信业务经营许可证：B2-20110196(全网) 闽B2-20090074 闽ICP备05019666号"),
  [N("telecom_licence","B2-20110196", valid=True), N("telecom_licence","闽B2-20090074", valid=True), N("icp_filing","闽ICP备05019666号", valid=True)], {}),
 ("61-14-call-centre-old-psb", foot("全国呼叫中心运营许可证：B2-20070013 京ICP备06029233号 北京市公安局西城分局备案号：110102001636"),
  [N("telecom_licence","B2-20070013", valid=True), N("icp_filing","京ICP备06029233号", valid=True), N("psb_filing","公网安备110102001636号", valid=True, province="11", problems=["no_prefix","old_format"])], {}),
 ("61-15-reseller-note", foot("备案号：粤ICP备11040663号-1 | 增值电信业务经营许可证：B2-20060558号(ICP加挂服务)"),
  [N("icp_filing","粤ICP备11040663号-1", valid=True), N("telecom_licence","B2-20060558", valid=True)], {}),
 ("61-16-university-15-digit-psb", foot("ICP备案号：晋ICP备14003279号 晋公网安备号：140110430070001"),
  [N("icp_filing","晋ICP备14003279号", valid=True), N("psb_filing","晋公网安备140110430070001号", valid=True, problems=["old_format"])], {}),
 ("61-17-old-miit-host", foot('<a href="http://www.miitbeian.gov.cn">藏ICP备 07500042号</a>'),
  [N("icp_filing","藏ICP备07500042号", valid=True, linked=True, problems=["stale_link"], href="http://www.miitbeian.gov.cn")], {}),
 ("61-18-no-hao", foot("备案号：陇ICP备 05000593"), [N("icp_filing","陇ICP备05000593号", valid=True, province="62")], {}),
 ("61-19-index-before-hao", foot("滇ICP备09010050-5号"), [N("icp_filing","滇ICP备09010050号-5", valid=True, site_index="5")], {}),
 ("61-20-education-token", foot("滇ICP备12002265号-1 云教ICP备1206028"), [N("icp_filing","滇ICP备12002265号-1", valid=True)], {}),
 ("61-21-campus-token", foot("沪交ICP备20190085号"), [], {"trap": True}),
 ("61-22-fullwidth-letters", foot("粤ＩＣＰ备14023066号-1"), [N("icp_filing","粤ICP备14023066号-1", valid=True, raw="粤ＩＣＰ备14023066号-1")], {}),
 ("61-23-spaces-everywhere", foot("赣 ICP 备 10005041 号"), [N("icp_filing","赣ICP备10005041号", valid=True)], {}),
 ("61-24-spaced-suffix", foot("© 2020 Netless 沪 ICP 备 19010127 号 - 2 沪公网安备 31011002004621 号"),
  [N("icp_filing","沪ICP备19010127号-2", valid=True, site_index="2"), N("psb_filing","沪公网安备31011002004621号", valid=True)], {}),
 ("61-25-hyphen-joined", foot("京公网安备11010802020134号-京ICP证110507号"),
  [N("psb_filing","京公网安备11010802020134号", valid=True), N("icp_licence","京ICP证110507号", valid=True, site_index=None)], {}),
 ("61-26-licence-index-12-digit-psb", foot("京ICP证040867号-3 京公网安备110105008661号"),
  [N("icp_licence","京ICP证040867号-3", valid=True), N("psb_filing","京公网安备110105008661号", valid=True, problems=["old_format"])], {}),
 ("61-27-year-range-before", foot("2011-2015 京ICP备12034000号-2 京公网安备11010802011553号"),
  [N("icp_filing","京ICP备12034000号-2", valid=True), N("psb_filing","京公网安备11010802011553号", valid=True)], {}),
 ("61-28-vats-label-and-psb", foot("增值电信业务经营许可证： 浙B2-20120165 | 浙公网安备 33010202000302号"),
  [N("telecom_licence","浙B2-20120165", valid=True), N("psb_filing","浙公网安备33010202000302号", valid=True)], {}),
 ("61-29-henan-8-digit-2020", foot("豫公网安备 41019702002703号 豫ICP备20006012号-1"),
  [N("psb_filing","豫公网安备41019702002703号", valid=True), N("icp_filing","豫ICP备20006012号-1", valid=True)], {}),
 ("61-30-shandong-10-digit", foot("鲁公网安备37028102001616号 鲁ICP备2024091574号-1"),
  [N("psb_filing","鲁公网安备37028102001616号", valid=True), N("icp_filing","鲁ICP备2024091574号-1", valid=True)], {}),
 ("61-31-config-with-mps-link", '<html><body><div id="app"></div><script>window.__CONFIG__={"icp":"粤ICP备2026073665号-1","psb":"粤公网安备44060602003342号","psbLink":"https://beian.mps.gov.cn/#/query/webSearch?code=44060602003342"}</script></body></html>',
  [N("icp_filing","粤ICP备2026073665号-1", valid=True, location="script"), N("psb_filing","粤公网安备44060602003342号", valid=True, location="script")], {}),
 ("61-32-sichuan-split", foot("川公网安备 51010502010606号 蜀ICP备08104443号-6"),
  [N("psb_filing","川公网安备51010502010606号", valid=True, province="51", problems=[]), N("icp_filing","蜀ICP备08104443号-6", valid=True, province="51", problems=[])], {}),
 ("61-33-gansu-split", foot("陇ICP备2020003856号 甘公网安备 62090202000584号"),
  [N("icp_filing","陇ICP备2020003856号", valid=True, province="62", problems=[]), N("psb_filing","甘公网安备62090202000584号", valid=True, province="62", problems=[])], {}),
 ("61-34-guizhou-split", foot("黔ICP备2025056580号 贵公网安备52052302000396号"),
  [N("icp_filing","黔ICP备2025056580号", valid=True, province="52", problems=[]), N("psb_filing","贵公网安备52052302000396号", valid=True, province="52", problems=[])], {}),
 ("61-35-no-separator-psb-no-prefix", foot("湘ICP备15014295号-2公安机关备案号：43011102001327"),
  [N("icp_filing","湘ICP备15014295号-2", valid=True), N("psb_filing","公网安备43011102001327号", valid=True, province="43", problems=["no_prefix"], raw="公安机关备案号：43011102001327")], {}),
 ("61-36-labels", foot("ICP备案号：京ICP备06071601号 | 公安机关备案号：11010802026197"),
  [N("icp_filing","京ICP备06071601号", valid=True), N("psb_filing","公网安备11010802026197号", province="11", problems=["no_prefix"])], {}),
 ("61-37-long-labels", foot("中华人民共和国网站备案号：京ICP备12048236号<br>信息产业部备案号：京ICP备05083646号"),
  [N("icp_filing","京ICP备12048236号", valid=True), N("icp_filing","京ICP备05083646号", valid=True)], {}),
 ("61-38-label-mismatch", foot("ICP证：浙ICP备14042003号-1 浙公网安备 33060202000394号"),
  [N("icp_filing","浙ICP备14042003号-1", valid=True), N("psb_filing","浙公网安备33060202000394号", valid=True)], {}),
 ("61-39-wangwen-not-reported", foot("ICP证：黔ICP备14000582号-1 网络文化经营许可证：黔网文许字[2014]1248-005号"),
  [N("icp_filing","黔ICP备14000582号-1", valid=True)], {}),
 ("61-40-domain-inserted", foot("贵ICP备(shou.org.cn)05052049号-13"),
  [N("icp_filing","贵ICP备05052049号-13", valid=True, problems=["nonstandard_prefix","inserted_text"], site_index="13")], {}),
 ("61-41-ministry-label-gan", foot("国家信息产业部甘ICP备14018586号"),
  [N("icp_filing","甘ICP备14018586号", valid=True, province="62", problems=["nonstandard_prefix"])], {}),
 ("61-42-space-before-index", foot("粤ICP备 10072756号 -1 | 粤网文【2001】0315-043 | 增值业务许可证：B2-20090063"),
  [N("icp_filing","粤ICP备10072756号-1", valid=True), N("telecom_licence","B2-20090063", valid=True)], {}),
 ("61-43a-app-suffix", foot("陕ICP备2024026116号-1A"), [N("icp_filing","陕ICP备2024026116号-1A", valid=True, site_index="1A")], {}),
 ("61-43b-mini-program-suffix", foot("京ICP备2026059598号-1X"), [N("icp_filing","京ICP备2026059598号-1X", valid=True, placeholder=False, site_index="1X")], {}),
 ("61-43c-tencent-mini-program-licence", foot("粤B2-20090059-1626X"), [N("telecom_licence","粤B2-20090059-1626X", valid=True, site_index="1626X")], {}),
]
for name, page, nums, extra in S61:
    trap = extra.pop("trap", False)
    case(name, page, nums, trap=trap, **extra)

# ---- E: §6.2 placeholders ----
PH = [
 ("icp_filing","京ICP备XXXXXXXX号","京ICP备XXXXXXXX号"),
 ("icp_filing","京ICP备xxxxxxxx号-x","京ICP备XXXXXXXX号-X"),
 ("icp_filing","沪ICP备XXXXXXXX号-X","沪ICP备XXXXXXXX号-X"),
 ("icp_filing","粤ICP备21xxxxxx号","粤ICP备21XXXXXX号"),
 ("icp_filing","川ICP备1XXXXXX1号","川ICP备1XXXXXX1号"),
 ("icp_filing","京ICP备12345678号","京ICP备12345678号"),
 ("icp_filing","京ICP备12345678号-1","京ICP备12345678号-1"),
 ("icp_filing","云ICP备12345678号","云ICP备12345678号"),
 ("icp_filing","滇ICP备12345678号","滇ICP备12345678号"),
 ("icp_filing","京ICP备00000000号","京ICP备00000000号"),
 ("icp_filing","贵ICP备00000000号","贵ICP备00000000号"),
 ("icp_filing","秦ICP备00000000号","秦ICP备00000000号"),
 ("icp_filing","贵ICP备66666666号","贵ICP备66666666号"),
 ("icp_filing","京ICP备2024000000号","京ICP备2024000000号"),
 ("icp_filing","京ICP备2024000001号","京ICP备2024000001号"),
 ("icp_filing","京ICP备0000000000号-1","京ICP备0000000000号-1"),
 ("icp_filing","京ICP备11111111-1","京ICP备11111111号-1"),
 ("icp_filing","川ICP备1234567-9号","川ICP备1234567号-9"),
 ("icp_licence","沪ICP证1000000323号","沪ICP证1000000323号"),
 ("telecom_licence","京B2-XXXXXXXX","京B2-XXXXXXXX"),
 ("telecom_licence","川B2-2025XXXX","川B2-2025XXXX"),
 ("psb_filing","京公网安备 XXXXXXXXXXXXXX号","京公网安备XXXXXXXXXXXXXX号"),
 ("psb_filing","滇公网安备 5303810000000 号","滇公网安备5303810000000号"),
 ("icp_filing","京ICP备{{ icp }}号","京ICP备号"),
 ("icp_filing","京ICP备号","京ICP备号"),
 ("icp_filing","浙ICP备2023123456号","浙ICP备2023123456号"),
 ("psb_filing","京公网安备11111111111111号","京公网安备11111111111111号"),
]
for i, (kind, text, num) in enumerate(PH):
    case(f"placeholder-{i+1:02d}", foot(text), [N(kind, num, valid=False, placeholder=True)], trap=True)
case("placeholder-doc-example-psb", foot("京公网安备11010802012345号"),
     [N("psb_filing","京公网安备11010802012345号", valid=False, placeholder=True, problems=["demo_number"])], trap=True)
case("placeholder-baidu-psb-copied", foot("京公网安备11000002000001号 京ICP备2022012874号"),
     [N("psb_filing","京公网安备11000002000001号", valid=False, placeholder=True, problems=["demo_number"]), N("icp_filing","京ICP备2022012874号", valid=True)],
     trap=True, base_url="https://blog.example.cn/")
case("placeholder-baidu-psb-on-baidu", foot("京公网安备11000002000001号"),
     [N("psb_filing","京公网安备11000002000001号", valid=True, placeholder=False, problems=[])], base_url="https://news.baidu.com/")
case("placeholder-gan-psb-mismatch", foot("甘公网安备 235487154313号"),
     [N("psb_filing","甘公网安备235487154313号", valid=False, placeholder=False, problems=["old_format","division_mismatch"])], trap=True)
case("placeholder-generic-label-zeros", foot("备案号:00000000000"),
     [N("icp_filing","ICP备00000000000号", valid=False, placeholder=True, province=None)], trap=True)
case("placeholder-template-vue", '<footer><p>{{ site.icp }}</p><p>ICP备案号：{{ config.beian }}</p></footer>',
     [N("icp_filing","ICP备号", valid=False, placeholder=True, problems=["template","no_prefix"])], trap=True)
case("placeholder-template-php-smarty", foot("京ICP备{$cfg_beian}号"), [N("icp_filing","京ICP备号", placeholder=True, problems=["template"])], trap=True)
case("placeholder-template-jinja-psb", foot("京公网安备{{ psb_number }}号"), [N("psb_filing","京公网安备号", placeholder=True)], trap=True)
case("placeholder-icp-bei-empty-bar", foot("粤ICP备 | 粤公网安备44030502008569号"),
     [N("icp_filing","粤ICP备号", placeholder=True, problems=["no_digits"]), N("psb_filing","粤公网安备44030502008569号", valid=True)], trap=True)

# ---- F: where numbers hide ----
case("hide-alt-text-only", foot('<img src="/beian.png" alt="京ICP备2022034871号-1">'),
     [N("icp_filing","京ICP备2022034871号-1", location="attribute", valid=True)])
case("hide-title-attribute", foot('<span title="粤公网安备44030502008570号"><img src="ga.png"></span>'),
     [N("psb_filing","粤公网安备44030502008570号", location="attribute")])
case("hide-meta-icp", '<html><head><meta name="icp" content="京ICP备2021034562号-2"></head><body><p>hello</p></body></html>',
     [N("icp_filing","京ICP备2021034562号-2", location="attribute", valid=True)])
case("hide-comment-only", foot("<p>© 2024 Example</p><!-- 京ICP备2021034563号-1 -->"),
     [N("icp_filing","京ICP备2021034563号-1", location="comment", valid=True, own=True, linked=False)])
case("hide-comment-old-visible-new", foot('<!-- <a href="https://beian.miit.gov.cn/">京ICP备13012874号</a> --><a href="https://beian.miit.gov.cn/">京ICP备2023012874号-1</a>'),
     [N("icp_filing","京ICP备13012874号", location="comment", linked=False, href="https://beian.miit.gov.cn/"), N("icp_filing","京ICP备2023012874号-1", location="footer", linked=True)])
case("hide-script-vite-env", '<html><body><div id="root"></div><script type="module">const env={VITE_ICP_BEIAN_NUMBER:"浙ICP备2023018452号-1",VITE_PSB:"浙公网安备33010602013121号"}</script></body></html>',
     [N("icp_filing","浙ICP备2023018452号-1", location="script", valid=True), N("psb_filing","浙公网安备33010602013121号", location="script")])
case("hide-script-create-text-node", '<html><body><div id="f"></div><script>document.getElementById("f").appendChild(document.createTextNode("苏ICP备2022011345号-2"));</script></body></html>',
     [N("icp_filing","苏ICP备2022011345号-2", location="script")])
case("hide-script-json-unicode-escapes", '<html><body><script>var cfg={"beian":"\\u4eacICP\\u59072022018474\\u53f7-1"};</script></body></html>',
     [N("icp_filing","京ICP备2022018474号-1", location="script", valid=True)])
case("hide-script-next-data", '<html><body><div id="__next"></div><script id="__NEXT_DATA__" type="application/json">{"props":{"footer":{"icp":"沪ICP备2021016784号","link":"https://beian.miit.gov.cn"}}}</script></body></html>',
     [N("icp_filing","沪ICP备2021016784号", location="script", linked=False)])
case("hide-script-html-string-link", '<html><body><script>footer.innerHTML = \'<a href="https://beian.miit.gov.cn/">鄂ICP备2021013367号-1</a>\';</script></body></html>',
     [N("icp_filing","鄂ICP备2021013367号-1", location="script", linked=True)])
case("hide-footer-and-script-same-number", '<html><body><footer>粤ICP备2021045671号</footer><script>var icp="粤ICP备2021045671号"</script></body></html>',
     [N("icp_filing","粤ICP备2021045671号", location="footer")])
case("hide-data-attribute", foot('<div data-icp="闽ICP备2021017834号-1"></div>'), [N("icp_filing","闽ICP备2021017834号-1", location="attribute")])
case("hide-noscript", '<html><body><noscript>京ICP备2021017835号</noscript></body></html>', [N("icp_filing","京ICP备2021017835号", location="footer")])
case("hide-psb-href-new-platform", foot('<a href="https://beian.mps.gov.cn/#/query/webSearch?code=31011502009322" rel="noreferrer" target="_blank"><img src="/ga.png"></a>'),
     [N("psb_filing","公网安备31011502009322号", linked=True, location="footer", province="31", problems=["no_prefix"], raw="31011502009322")])
case("hide-psb-href-legacy-token", foot('<a href="http://www.beian.gov.cn/portal/registerSystemInfo?recordcode=44030502008571&amp;token=7f3c">粤公网安备</a>'),
     [N("psb_filing","粤公网安备44030502008571号", linked=True, raw="44030502008571")])
case("hide-psb-text-and-href-merge", foot('<a href="http://www.beian.gov.cn/portal/registerSystemInfo?recordcode=33010602009975"><img src="ga.png"></a> 浙公网安备 33010602009975号'),
     [N("psb_filing","浙公网安备33010602009975号", linked=True, raw="浙公网安备 33010602009975号", location="footer")])
case("hide-image-only-footer", foot('<a href="https://beian.miit.gov.cn/"><img src="/icp.png"></a>'), [], trap=True)

# ---- text forms ----
TEXT = [
 ("text-split-across-spans", foot("京ICP备<span>1234</span>5679号"), "icp_filing", "京ICP备12345679号"),
 ("text-split-bold-prefix", foot("<b>粤</b>ICP备<em>14023066</em>号-<i>1</i>"), "icp_filing", "粤ICP备14023066号-1"),
 ("text-entities-nbsp", foot("京ICP备&nbsp;2021021837号&nbsp;-&nbsp;1"), "icp_filing", "京ICP备2021021837号-1"),
 ("text-numeric-entities", foot("&#20140;ICP&#22791;2021021838&#21495;"), "icp_filing", "京ICP备2021021838号"),
 ("text-all-numeric-entities", foot("&#20140;&#20844;&#32593;&#23433;&#22791;11010502030143&#21495; " + "&#26412;&#31449;" * 12), "psb_filing", "京公网安备11010502030143号"),
 ("text-ideographic-space", foot("京ICP备\u30002021021839号"), "icp_filing", "京ICP备2021021839号"),
 ("text-zero-width", foot("京ICP备\u200b2021021840\u200d号"), "icp_filing", "京ICP备2021021840号"),
 ("text-zero-width-in-icp", foot("京I\u200bCP备2021021841号"), "icp_filing", "京ICP备2021021841号"),
 ("text-fullwidth-digits", foot("京ICP备２０２１０２１８４２号－１"), "icp_filing", "京ICP备2021021842号-1"),
 ("text-lower-icp", foot("京icp备2021021843号"), "icp_filing", "京ICP备2021021843号"),
 ("text-mixed-case-icp", foot("京Icp备2021021844号"), "icp_filing", "京ICP备2021021844号"),
 ("text-traditional-filing", foot("京ICP備2021021845號"), "icp_filing", "京ICP备2021021845号"),
 ("text-traditional-licence", foot("京ICP證030173號"), "icp_licence", "京ICP证030173号"),
 ("text-traditional-psb", foot("京公網安備11010502030144號"), "psb_filing", "京公网安备11010502030144号"),
 ("text-psb-swapped-words", foot("沪公安网备31011502009323号"), "psb_filing", "沪公网安备31011502009323号"),
 ("text-psb-hao-label", foot("京公网安备号：11010502030145"), "psb_filing", "京公网安备11010502030145号"),
 ("text-psb-bei-an-hao", foot("京公网安备案号：11010502030146号"), "psb_filing", "京公网安备11010502030146号"),
 ("text-psb-city-name", foot("武汉网安备42010602000123号"), "psb_filing", "公网安备42010602000123号"),
 ("text-icp-bei-an-typo", foot("京ICP备案2021021846号"), "icp_filing", "京ICP备2021021846号"),
 ("text-colon-after-bei", foot("京ICP备：2021021847号"), "icp_filing", "京ICP备2021021847号"),
 ("text-em-dash-index", foot("京ICP备2021021848号—2"), "icp_filing", "京ICP备2021021848号-2"),
 ("text-newlines-in-source", foot("京ICP备\n    2021021849号\n  -3"), "icp_filing", "京ICP备2021021849号-3"),
 ("text-licence-fullwidth-comma", foot("京B2-20202418，A2.B1.B2-20202637"), "telecom_licence", "京B2-20202418"),
 ("text-vats-dunhao", foot("经营许可证：京B1、B2-20202419"), "telecom_licence", "京B1.B2-20202419"),
 ("text-vats-lower", foot("许可证：浙b2-20080102"), "telecom_licence", "浙B2-20080102"),
 ("text-vats-hao", foot("苏B2-20130048号"), "telecom_licence", "苏B2-20130048"),
 ("text-psb-public-security-record", foot("公安备案号：32011402012524"), "psb_filing", "公网安备32011402012524号"),
]
for name, page, kind, num in TEXT:
    extra = [N("telecom_licence","A2.B1.B2-20202637")] if name == "text-licence-fullwidth-comma" else []
    case(name, page, [N(kind, num)] + extra)

# ---- links ----
LINKS = [
 ("link-www-miit", '<a href="https://www.beian.miit.gov.cn/">京ICP备2021030001号</a>', True, [], "https://www.beian.miit.gov.cn/"),
 ("link-protocol-relative", '<a href="//beian.miit.gov.cn">京ICP备2021030002号</a>', True, [], "//beian.miit.gov.cn"),
 ("link-no-scheme", '<a href="beian.miit.gov.cn/">京ICP备2021030003号</a>', True, [], "beian.miit.gov.cn/"),
 ("link-uppercase-tag", '<A HREF="HTTPS://BEIAN.MIIT.GOV.CN/">京ICP备2021030004号</A>', True, [], "HTTPS://BEIAN.MIIT.GOV.CN/"),
 ("link-javascript-open", '<a href="javascript:window.open(\'https://beian.miit.gov.cn/\')">京ICP备2021030005号</a>', True, [], "javascript:window.open('https://beian.miit.gov.cn/')"),
 ("link-old-miibeian", '<a href="http://www.miibeian.gov.cn/">京ICP备2021030006号</a>', True, ["stale_link"], "http://www.miibeian.gov.cn/"),
 ("link-third-party-lookup", '<a href="https://icp.chinaz.com/example.cn">京ICP备2021030007号</a>', False, [], "https://icp.chinaz.com/example.cn"),
 ("link-home-page", '<a href="/">京ICP备2021030008号</a>', False, [], "/"),
 ("link-adjacent-not-inside", '<a href="https://beian.miit.gov.cn/">备案查询</a> 京ICP备2021030009号', False, [], None),
 ("link-psb-host-for-icp", '<a href="http://www.beian.gov.cn/">京ICP备2021030010号</a>', False, [], "http://www.beian.gov.cn/"),
 ("link-lookalike-host", '<a href="https://beian.miit.gov.cn.example.com/">京ICP备2021030011号</a>', False, [], "https://beian.miit.gov.cn.example.com/"),
 ("link-wrapped-in-spans", '<a href="https://beian.miit.gov.cn/"><span>京ICP备</span><span>2021030012号</span></a>', True, [], "https://beian.miit.gov.cn/"),
]
for name, inner, linked, problems, href in LINKS:
    num = inner.split(">")[-2].split("<")[0] if "span" not in inner else "京ICP备2021030012号"
    import re as _re
    num = _re.search(r"京ICP备\d+号", _re.sub(r"<[^>]+>", "", inner)).group(0)
    case(name, foot(inner), [N("icp_filing", num, linked=linked, href=href, problems=problems)], trap=not linked)
case("link-relative-resolved-with-base-url", foot('<a href="/about/icp">京ICP备2021030013号</a>'),
     [N("icp_filing","京ICP备2021030013号", linked=False, href="https://www.example.cn/about/icp")], base_url="https://www.example.cn/index.html")
case("link-licence-to-miit", foot('<a href="https://beian.miit.gov.cn/">粤B2-20090060</a>'), [N("telecom_licence","粤B2-20090060", linked=True)])
case("link-psb-to-miit-not-linked", foot('<a href="https://beian.miit.gov.cn/">京公网安备11010502030147号</a>'), [N("psb_filing","京公网安备11010502030147号", linked=False)], trap=True)

# ---- location / own ----
TUT = ('<html><body><article><h1>网站备案号怎么写？</h1><p>备案号的格式为省份简称加ICP备加数字，例如京ICP备2020046041号，'
       '网站号会加后缀，如粤ICP备2021089202号-1。公安备案号形如京公网安备11010502030148号。</p>'
       '<p>更多内容请阅读全文。' + "这是一段很长的正文。" * 40 + '</p></article>'
       '<footer><a href="https://beian.miit.gov.cn/">浙ICP备2022001234号-1</a> 浙公网安备33010602011234号</footer></body></html>')
case("own-tutorial-examples", TUT, [
    N("icp_filing","京ICP备2020046041号", location="body", own=False),
    N("icp_filing","粤ICP备2021089202号-1", location="body", own=False),
    N("psb_filing","京公网安备11010502030148号", location="body", own=False),
    N("icp_filing","浙ICP备2022001234号-1", location="footer", own=True, linked=True),
    N("psb_filing","浙公网安备33010602011234号", location="footer", own=True)], trap=True)
case("own-tutorial-no-footer-number", '<html><body><article><p>例如京ICP备2020046042号是一个备案号。</p>' + "<p>正文内容。</p>" * 30 + '</article><footer>© 2024 个人博客</footer></body></html>',
     [N("icp_filing","京ICP备2020046042号", location="body", own=True)])
case("own-body-linked-number-is-own", '<html><body><div class="about"><a href="https://beian.miit.gov.cn/">京ICP证150477号</a></div>' + "<p>内容</p>" * 40 + '<div id="footer">京ICP备2021030014号</div></body></html>',
     [N("icp_licence","京ICP证150477号", location="body", own=True, linked=True), N("icp_filing","京ICP备2021030014号", location="footer", own=True)])
case("own-psb-family-separate", '<html><body><article><p>我们的公安备案：京公网安备11010502030149号</p>' + "<p>内容</p>" * 40 + '</article><footer>京ICP备2021030015号</footer></body></html>',
     [N("psb_filing","京公网安备11010502030149号", location="body", own=True), N("icp_filing","京ICP备2021030015号", location="footer", own=True)])
case("own-court-document-quoting", '<html><body><div class="content"><p>经查，被告网站的ＩＣＰ备案信息为沪ICP备2019012871号，</p>' + "<p>判决书正文。</p>" * 40 + '</div><div class="copyright">京ICP备2021030016号-1</div></body></html>',
     [N("icp_filing","沪ICP备2019012871号", location="body", own=False), N("icp_filing","京ICP备2021030016号-1", location="footer", own=True)], trap=True)
FOOTERISH = [("id-footer", '<div id="footer">{}</div>'), ("class-site-foot", '<div class="site-foot">{}</div>'),
             ("class-copyright", '<p class="copyright">{}</p>'), ("class-beian", '<div class="beian-info">{}</div>'),
             ("class-bottom", '<div class="bottom">{}</div>'), ("role-contentinfo", '<div role="contentinfo">{}</div>'),
             ("id-icp", '<span id="icp">{}</span>'), ("footer-tag-nested", '<footer><div><ul><li>{}</li></ul></div></footer>')]
for i, (nm, tpl) in enumerate(FOOTERISH):
    num = f"京ICP备20210300{20+i}号"
    page = '<html><body>' + tpl.format(num) + "<div>" + "<p>正文内容很多。</p>" * 60 + "</div></body></html>"
    case(f"location-footerish-{nm}", page, [N("icp_filing", num, location="footer")])
case("location-tailwind-bottom-is-not-footer", '<html><body><div class="fixed bottom-0 mb-4"><p>京ICP备2021030030号</p></div>' + "<p>正文</p>" * 80 + "</body></html>",
     [N("icp_filing","京ICP备2021030030号", location="body")], trap=True)
case("location-tail-rule-no-footer-markup", '<html><body>' + "<p>正文内容。</p>" * 60 + '<div class="w1200"><p>版权所有 © 2024</p><p>京ICP备2021030031号</p></div></body></html>',
     [N("icp_filing","京ICP备2021030031号", location="footer")])
case("location-top-of-page-without-footer", '<html><body><div class="w1200"><p>京ICP备2021030032号</p></div>' + "<p>正文内容。</p>" * 60 + '</body></html>',
     [N("icp_filing","京ICP备2021030032号", location="body", own=True)])
case("location-footer-after-long-scripts", '<html><body>' + "<p>正文</p>" * 30 + '<footer>京ICP备2021030033号</footer><script>' + "var a=1;" * 2000 + '</script></body></html>',
     [N("icp_filing","京ICP备2021030033号", location="footer")])
case("location-plain-text", "版权所有 北京某某科技有限公司 京ICP备2021030034号-1 京公网安备11010502030150号",
     [N("icp_filing","京ICP备2021030034号-1", location="body", own=True), N("psb_filing","京公网安备11010502030150号", location="body", own=True)])
case("location-duplicate-header-and-footer", '<html><body><header><p>京ICP备2021030035号</p></header>' + "<p>正文</p>" * 50 + '<footer>京ICP备2021030035号</footer></body></html>',
     [N("icp_filing","京ICP备2021030035号", location="footer", own=True)])

# ---- G: traps ----
TRAPS = [
 ("trap-icp-algorithm", "<p>ICP算法（Iterative Closest Point）在2021年的改进版本迭代 20210101 次。</p>"),
 ("trap-icp-registration-point-cloud", "<p>使用ICP配准，误差 0.0012345678，耗时 2021012345 微秒。</p>"),
 ("trap-icp-ms-lab", "<p>ICP-MS 检测报告编号 20230101，ICP-OES 光谱。</p>"),
 ("trap-icp-english", "<p>The ICP (Iterative Closest Point) algorithm ran for 12345678 iterations.</p>"),
 ("trap-icp-backup-word", "<p>ICP备份文件 20210101.tar.gz</p>"),
 ("trap-icp-query-link", foot('<a href="https://beian.miit.gov.cn/">ICP备案查询</a>')),
 ("trap-icp-label-only", foot("ICP备案号：")),
 ("trap-icp-passed", "<p>本站已通过ICP备案，备案信息可在工信部网站查询。</p>"),
 ("trap-icp-count", "<p>全国ICP备案数量：4123456个网站</p>"),
 ("trap-prefix-query", foot("京ICP备查询")),
 ("trap-phone-number", foot("服务热线：400-820-8820 电话：010-62671188 传真：0755-86013388")),
 ("trap-dates", foot("更新时间：2021-01-01 12:00 版本 2024.05")),
 ("trap-order-number", "<p>订单号：2021012345678901 运单号：SF1234567890</p>"),
 ("trap-hex-colour", '<div style="color:#B2B2B2;background:#A1B2C3">B2B 平台</div>'),
 ("trap-product-model", "<p>型号 A1-20201234，规格 B3-2020</p>"),
 ("trap-meng", foot('<a href="https://icp.gov.moe/?keyword=20250577">萌ICP备20250577号</a>')),
 ("trap-meng-alnum", foot("萌ICP备APTX4869号")),
 ("trap-cha", foot("茶ICP备2025001234号")),
 ("trap-xingyun", foot("星云ICP备2025001235号")),
 ("trap-houpu", foot("厚溥ICP备20180723号-2")),
 ("trap-xiaoshuai", foot("小帅ICP备20180001号")),
 ("trap-guo", foot("国ICP备123000321号")),
 ("trap-shu", foot("署ICP备2025001236号")),
 ("trap-qingdao", foot("青岛ICP备2025001237号")),
 ("trap-yunjiao", foot("云教ICP备1206028")),
 ("trap-d3-registrar", foot("域名注册服务机构许可：京D3-20250002")),
 ("trap-wangwen", foot("网络文化经营许可证：京网文（2023）4872-140号")),
 ("trap-wangwen-brackets", foot("粤网文【2022】6138-1456号 滇网文许字【2014】1100-002号")),
 ("trap-shiting", foot("信息网络传播视听节目许可证：0110516")),
 ("trap-news-licence", foot("互联网新闻信息服务许可证：11220180008")),
 ("trap-drug-licence", foot("互联网药品信息服务资格证书：(京)-经营性-2024-0502")),
 ("trap-medical-device-record", foot("医疗器械备案号：20190001")),
 ("trap-food-record", foot("食品经营备案号：123456789012")),
 ("trap-government-site-code", foot("网站标识码：1100000088 京公网安备 ")),
 ("trap-public-security-news", "<p>市公安局2021年破获案件12345起，公安机关提醒市民注意。</p>"),
 ("trap-icp-url", '<p>访问 https://icp.example.cn/record/20210101 查询</p>'),
 ("trap-css-class-icp", '<div class="icp-20210101"></div>'),
 ("trap-copyright-years", foot("Copyright © 2004-2024 All Rights Reserved")),
 ("trap-icp-no-bei", foot("京ICP 2021012347")),
 ("trap-psb-no-digits", foot("京公网安备")),
 ("trap-b2b-dash", "<p>B2-B 模式与 B2C-2020 报告</p>"),
 ("trap-vats-short", foot("许可证：粤B2-2009005")),
 ("trap-style-block", '<html><head><style>.icp:before{content:"ICP"} #b2-2009{}</style></head><body><p>hi</p></body></html>'),
 ("trap-empty-page", ""),
 ("trap-binary-garbage", "\x00\x01\x02ICP\x00备\x7f"),
]
for name, page in TRAPS:
    case(name, page, [], trap=True)
case("trap-phone-after-index", foot("京ICP备12034001号-010-62671188"), [N("icp_filing","京ICP备12034001号", site_index=None)], trap=True)
case("trap-date-after-number", foot("京ICP备12034002号 2024-05-01"), [N("icp_filing","京ICP备12034002号", site_index=None)], trap=True)
case("trap-index-then-year", foot("京ICP备12034003号-2 2024"), [N("icp_filing","京ICP备12034003号-2", site_index="2")], trap=True)
case("trap-no-prefix-icp", foot("ICP备2021012348号"), [N("icp_filing","ICP备2021012348号", valid=False, province=None, problems=["no_prefix"])], trap=True)
case("trap-comment-placeholder-with-real", foot("<!-- 京ICP备XXXXXXXX号 -->京ICP备2021012349号"),
     [N("icp_filing","京ICP备XXXXXXXX号", location="comment", placeholder=True), N("icp_filing","京ICP备2021012349号", location="footer", placeholder=False)], trap=True)
case("trap-script-example-in-validator", '<html><body><script>// 格式示例: 京ICP备12345678号\nvar re=/ICP备\\d+/;</script><footer>沪ICP备2021012350号</footer></body></html>',
     [N("icp_filing","京ICP备12345678号", location="script", placeholder=True), N("icp_filing","沪ICP备2021012350号", location="footer")], trap=True)
case("trap-input-placeholder-attr", foot('<input placeholder="请输入ICP备案号，如京ICP备12345678号">'),
     [N("icp_filing","京ICP备12345678号", location="attribute", placeholder=True)], trap=True)
case("trap-icp-licence-label-then-filing", foot("ICP证：浙ICP备14042004号"), [N("icp_filing","浙ICP备14042004号")], trap=True)

# ---- J: encodings (page encoded to bytes) ----
GBK_PAGE = ('<html><head><meta charset="gb2312"><title>镕喆堃玥 测试</title></head><body><p>新闻 镕喆堃玥</p>'
            '<footer><a href="https://beian.miit.gov.cn/">京ICP备2021040001号-1</a> 京公网安备11010502040001号</footer></body></html>')
ENC = [
 ("encoding-gbk-meta-gb2312-gbk-only-chars", GBK_PAGE, "gbk", None, "gb18030", False),
 ("encoding-gbk-undeclared", GBK_PAGE.replace('<meta charset="gb2312">', ""), "gbk", None, "gb18030", False),
 ("encoding-gbk-header-says-utf8", GBK_PAGE, "gbk", "utf-8", "gb18030", True),
 ("encoding-gbk-header-says-latin1", GBK_PAGE, "gbk", "iso-8859-1", "gb18030", True),
 ("encoding-gbk-header-says-big5", GBK_PAGE, "gbk", "big5", "gb18030", True),
 ("encoding-gbk-alias-x-gbk", GBK_PAGE, "gbk", "x-gbk", "gb18030", False),
 ("encoding-gbk-alias-gb-2312-80", GBK_PAGE, "gbk", "GB_2312-80", "gb18030", False),
 ("encoding-gb18030-four-byte-char", GBK_PAGE.replace("镕喆堃玥", "𠮷野家 镕喆"), "gb18030", "gb2312", "gb18030", False),
 ("encoding-utf8-meta-says-gbk", GBK_PAGE, "utf-8", None, "utf-8", True),
 ("encoding-utf8-bom", GBK_PAGE.replace('<meta charset="gb2312">', ""), "utf-8-sig", None, "utf-8", False),
 ("encoding-utf16-bom", GBK_PAGE.replace('<meta charset="gb2312">', ""), "utf-16", None, "utf-16-le", False),
]
for name, page, codec, hint, used, mismatch in ENC:
    extra = {"encoding": codec, "expect_encoding": used, "expect_mismatch": mismatch}
    if hint:
        extra["hint"] = hint
    case(name, page, [N("icp_filing","京ICP备2021040001号-1", linked=True, location="footer"), N("psb_filing","京公网安备11010502040001号")], **extra)
BIG5_PAGE = ('<html><head><meta charset="big5"><title>網站</title></head><body><p>歡迎光臨本網站，這是我們的首頁。</p>'
             '<footer>京ICP備2021040002號 京公網安備11010502040002號</footer></body></html>')
for name, page, hint, used, mismatch in [
    ("encoding-big5-declared", BIG5_PAGE, None, "big5hkscs", False),
    ("encoding-big5-undeclared", BIG5_PAGE.replace('<meta charset="big5">', ""), None, "big5hkscs", False),
    ("encoding-big5-header-says-gbk", BIG5_PAGE.replace('<meta charset="big5">', ""), "gbk", "big5hkscs", True),
]:
    extra = {"encoding": "big5", "expect_encoding": used, "expect_mismatch": mismatch}
    if hint:
        extra["hint"] = hint
    case(name, page, [N("icp_filing","京ICP备2021040002号"), N("psb_filing","京公网安备11010502040002号")], **extra)

with open("/work/wt/extract/tests/corpus/extract_cases.yaml", "w", encoding="utf-8") as fh:
    fh.write("# Labelled extraction corpus: every kind, province, era, ICP-DOMAIN §6.1 row, §6.2 placeholder,\n"
             "# §6.3 hiding place, and traps (trap: true). Each case lists the exact numbers expected\n"
             "# (kind + normalised number); other keys given for a number are asserted exactly.\n"
             "# Judged as of today = 2026-11-28 (tests/test_extract_corpus.py).\n")
    yaml.safe_dump(cases, fh, allow_unicode=True, sort_keys=False, width=4096, default_flow_style=None)
print(len(cases), "cases", sum(1 for c in cases if c.get("trap")), "traps")
