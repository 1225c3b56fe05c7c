"""The sandbox province's basic catalog (政务服务事项基本目录): item templates.

Each template is one basic item (基本编码, §6.2) with the implementation defaults that the
implementing departments start from: legal basis, time limits, materials, handling forms,
online depth and the result document. Names and legal bases follow real Guangdong catalog
entries; time limits and materials are plausible, not authoritative.

A template's ``item_code`` is region part + item type (A.1) + main item (5 characters: the
2-digit central guidance department code and a 3-character sequence) + sub-item (3 characters).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

E, P, B = "ELECTRONIC", "PAPER", "BOTH"


@dataclass(frozen=True)
class Material:
    name: str
    required: bool
    form: str          # ELECTRONIC | PAPER | BOTH
    originals: int = 0
    copies: int = 0

    def as_record(self) -> dict:
        return {"name": self.name, "required": self.required, "form": self.form,
                "originals": self.originals, "copies": self.copies}


@dataclass(frozen=True)
class ItemTemplate:
    key: str
    name: str
    item_type: str                       # A.1, positions 3–4 of the basic code
    main: str                            # positions 5–9
    sub: str                             # positions 10–12
    dept: str                            # DepartmentKind key
    levels: tuple[str, ...]              # A.2 exercise levels at which it is implemented
    legal_basis: str
    promise_limit: tuple[int, str]
    legal_limit: tuple[int, str] | None
    case_type: str                       # A.6
    service_objects: tuple[str, ...]     # A.4, ascending
    handling_forms: tuple[str, ...]      # A.5, ascending
    online_depth: int                    # A.12
    on_site_visits: int | None
    materials: tuple[Material, ...]
    result_type: str                     # CERTIFICATE | DECISION | OTHER for an approval
    cert_name: str
    cert_no: str                         # format key understood by the generator
    validity_years: int | None = None    # None: 长期有效 (no validUntil)
    media_type: str = "application/pdf"
    fee_basis: str | None = None         # charged exactly when a basis is given (TBS-CAT-008)
    handling_items: tuple[str, ...] = ()
    applicants: str = "both"             # person | org | both | household (个体户)
    review_steps: tuple[str, ...] = ("承办", "审核", "批准")
    region_part: str = "44"              # "00" for nationally coded items (TBS-CAT-005)
    delivers: bool = True                # a DELIVER step follows the conclusion
    shadow_of: str | None = field(default=None, compare=False)  # planted near-duplicate of key

    @property
    def item_code(self) -> str:
        return f"{self.region_part}{self.item_type}{self.main}{self.sub}"

    def handling_members(self) -> dict[str, Any]:
        """The ServiceItem members this template fixes, from the time limits to the materials,
        in the order a record lists them."""
        out: dict[str, Any] = {}
        if self.legal_limit is not None:
            out["legalLimit"] = {"value": self.legal_limit[0], "unit": self.legal_limit[1]}
        out["promiseLimit"] = {"value": self.promise_limit[0], "unit": self.promise_limit[1]}
        out["caseType"] = self.case_type
        out["fee"] = {"charged": True, "basis": self.fee_basis} if self.fee_basis else {"charged": False}
        out["serviceObjects"] = list(self.service_objects)
        out["handlingForms"] = list(self.handling_forms)
        out["onlineDepth"] = self.online_depth
        if self.on_site_visits is not None:
            out["onSiteVisits"] = self.on_site_visits
        out["materials"] = [m.as_record() for m in self.materials]
        return out


# ---------------------------------------------------------------- county-level items (level 4)
COUNTY_TEMPLATES: tuple[ItemTemplate, ...] = (
    ItemTemplate(
        key="public_place_hygiene", name="公共场所卫生许可（新证）", item_type="01", main="20012", sub="002",
        dept="health", levels=("4",), legal_basis="《公共场所卫生管理条例》第四条",
        promise_limit=(10, "WORKDAY"), legal_limit=(20, "WORKDAY"), case_type="2",
        service_objects=("1", "2"), handling_forms=("1", "2", "3"), online_depth=4, on_site_visits=0,
        materials=(Material("公共场所卫生许可申请表", True, E), Material("营业执照", True, E),
                   Material("卫生管理制度", False, B, 1, 0)),
        result_type="CERTIFICATE", cert_name="公共场所卫生许可证", cert_no="doc:卫公证字", validity_years=4,
        media_type="application/ofd", handling_items=("公共场所卫生许可（新证）",)),
    ItemTemplate(
        key="food_business", name="食品经营许可", item_type="01", main="31003", sub="000",
        dept="market", levels=("4",),
        legal_basis="《中华人民共和国食品安全法》第三十五条；《食品经营许可和备案管理办法》第二条",
        promise_limit=(5, "WORKDAY"), legal_limit=(10, "WORKDAY"), case_type="2",
        service_objects=("1", "2"), handling_forms=("1", "2", "3"), online_depth=4, on_site_visits=0,
        materials=(Material("食品经营许可申请书", True, E), Material("营业执照或者其他主体资格证明文件", True, E),
                   Material("与食品经营相适应的主要设备设施、经营布局、操作流程等文件", True, E),
                   Material("食品安全自查、从业人员健康管理、进货查验记录等食品安全管理制度", True, E)),
        result_type="CERTIFICATE", cert_name="食品经营许可证", cert_no="food", validity_years=5,
        handling_items=("食品经营许可（新办）", "食品经营许可（变更）", "食品经营许可（延续）"),
        applicants="household"),
    ItemTemplate(
        key="marriage", name="内地居民结婚登记", item_type="07", main="11004", sub="000",
        dept="civil", levels=("4",), legal_basis="《婚姻登记条例》第四条、第五条、第七条",
        promise_limit=(0, "WORKDAY"), legal_limit=None, case_type="1",
        service_objects=("1",), handling_forms=("1",), online_depth=2, on_site_visits=1,
        materials=(Material("本人的居民户口簿", True, P, 1, 0), Material("本人的居民身份证", True, P, 1, 0),
                   Material("本人无配偶以及与对方当事人没有直系血亲和三代以内旁系血亲关系的签字声明", True, P, 1, 0),
                   Material("双方近期半身免冠合影照片", True, P, 3, 0)),
        result_type="CERTIFICATE", cert_name="结婚证", cert_no="marriage", applicants="person",
        review_steps=("审查",)),
    ItemTemplate(
        key="pension_enrol", name="城乡居民基本养老保险参保登记", item_type="20", main="14201", sub="000",
        dept="hrss", levels=("4", "5"),
        legal_basis="《中华人民共和国社会保险法》第二十条、第二十二条；《国务院关于建立统一的城乡居民基本养老保险制度的意见》（国发〔2014〕8号）",
        promise_limit=(0, "WORKDAY"), legal_limit=None, case_type="1",
        service_objects=("1",), handling_forms=("1", "2", "3"), online_depth=4, on_site_visits=0,
        materials=(Material("居民身份证", True, E), Material("居民户口簿", False, B, 1, 0)),
        result_type="OTHER", cert_name="城乡居民基本养老保险参保登记回执", cert_no="receipt:CB",
        applicants="person", review_steps=("审核",), delivers=False),
    ItemTemplate(
        key="subsistence", name="最低生活保障对象认定", item_type="07", main="11012", sub="000",
        dept="civil", levels=("4",),
        legal_basis="《社会救助暂行办法》第九条、第十一条；《广东省最低生活保障制度实施办法》",
        promise_limit=(20, "WORKDAY"), legal_limit=(30, "WORKDAY"), case_type="2",
        service_objects=("1",), handling_forms=("1", "2", "3"), online_depth=3, on_site_visits=1,
        materials=(Material("最低生活保障申请书", True, B, 1, 0), Material("家庭成员居民身份证", True, B, 0, 1),
                   Material("家庭经济状况核对授权书", True, P, 1, 0)),
        result_type="DECISION", cert_name="最低生活保障审批决定书", cert_no="doc:民低保字", applicants="person",
        review_steps=("入户调查", "审核", "审批")),
    ItemTemplate(
        key="unemployment", name="失业保险金申领", item_type="05", main="14105", sub="000",
        dept="hrss", levels=("4",), legal_basis="《失业保险条例》第十四条、第十六条；《失业保险金申领发放办法》",
        promise_limit=(5, "WORKDAY"), legal_limit=(10, "WORKDAY"), case_type="2",
        service_objects=("1",), handling_forms=("1", "2", "3"), online_depth=4, on_site_visits=0,
        materials=(Material("居民身份证", True, E), Material("社会保障卡", False, E)),
        result_type="OTHER", cert_name="失业保险待遇核定通知书", cert_no="receipt:SY", applicants="person",
        review_steps=("审核", "核定"), delivers=False),
    ItemTemplate(
        key="construction_permit", name="建筑工程施工许可证核发", item_type="01", main="18021", sub="000",
        dept="housing", levels=("4",),
        legal_basis="《中华人民共和国建筑法》第七条、第八条；《建筑工程施工许可管理办法》第二条",
        promise_limit=(3, "WORKDAY"), legal_limit=(7, "DAY"), case_type="2",
        service_objects=("2",), handling_forms=("1", "2"), online_depth=4, on_site_visits=0,
        materials=(Material("建筑工程施工许可申请表", True, E), Material("建设工程规划许可证", True, E),
                   Material("施工合同", True, E), Material("施工图设计文件审查合格书", False, E)),
        result_type="CERTIFICATE", cert_name="建筑工程施工许可证", cert_no="construction", applicants="org"),
    ItemTemplate(
        key="construction_waste", name="城市建筑垃圾处置核准", item_type="01", main="18044", sub="000",
        dept="urban", levels=("4",),
        legal_basis="《城市市容和环境卫生管理条例》第十七条；《国务院对确需保留的行政审批项目设定行政许可的决定》第101项",
        promise_limit=(10, "WORKDAY"), legal_limit=(20, "DAY"), case_type="2",
        service_objects=("2",), handling_forms=("1", "2"), online_depth=3, on_site_visits=1,
        materials=(Material("城市建筑垃圾处置核准申请表", True, B, 1, 0), Material("建筑垃圾运输合同", True, B, 0, 1),
                   Material("建筑垃圾消纳场所证明", True, P, 0, 1)),
        result_type="CERTIFICATE", cert_name="城市建筑垃圾处置核准证", cert_no="doc:城建垃准字", validity_years=1,
        fee_basis="《城市建筑垃圾管理规定》（建设部令第139号）第九条；建筑垃圾处置费按当地价格主管部门核定的标准收取",
        applicants="org"),
    ItemTemplate(
        key="road_freight", name="道路货物运输经营许可", item_type="01", main="19007", sub="000",
        dept="transport", levels=("4",), legal_basis="《中华人民共和国道路运输条例》第二十一条、第二十四条",
        promise_limit=(5, "WORKDAY"), legal_limit=(20, "DAY"), case_type="2",
        service_objects=("1", "2"), handling_forms=("1", "2", "3"), online_depth=4, on_site_visits=0,
        materials=(Material("道路货物运输经营申请表", True, E), Material("负责人身份证明", True, E),
                   Material("机动车辆行驶证", True, E), Material("安全生产管理制度文本", True, E)),
        result_type="CERTIFICATE", cert_name="道路运输经营许可证", cert_no="road", validity_years=4),
    ItemTemplate(
        key="private_kindergarten", name="民办幼儿园设立审批", item_type="01", main="08011", sub="000",
        dept="education", levels=("4",),
        legal_basis="《中华人民共和国民办教育促进法》第十二条；《中华人民共和国民办教育促进法实施条例》第十六条",
        promise_limit=(30, "WORKDAY"), legal_limit=(3, "MONTH"), case_type="2",
        service_objects=("1", "2", "4"), handling_forms=("1", "2"), online_depth=3, on_site_visits=1,
        materials=(Material("举办者申办报告", True, B, 1, 0), Material("举办者资格证明文件", True, B, 0, 1),
                   Material("拟任园长及教职工资格证明", True, B, 0, 1), Material("园舍产权证明或租赁合同", True, P, 0, 1),
                   Material("消防安全检查合格证明", True, B, 0, 1)),
        result_type="CERTIFICATE", cert_name="民办学校办学许可证", cert_no="school", validity_years=5),
    ItemTemplate(
        key="physician_registration", name="医师执业注册", item_type="01", main="20023", sub="000",
        dept="health", levels=("4",), legal_basis="《中华人民共和国医师法》第十三条、第十四条；《医师执业注册管理办法》",
        promise_limit=(5, "WORKDAY"), legal_limit=(20, "WORKDAY"), case_type="2",
        service_objects=("1",), handling_forms=("1", "2", "3"), online_depth=4, on_site_visits=0,
        materials=(Material("医师执业注册申请审核表", True, E), Material("医师资格证书", True, E),
                   Material("近6个月内的健康体检证明", True, E), Material("拟执业医疗卫生机构的聘用证明", True, E)),
        result_type="CERTIFICATE", cert_name="医师执业证书", cert_no="physician", applicants="person"),
    ItemTemplate(
        key="individual_business", name="个体工商户注册登记", item_type="01", main="31012", sub="000",
        dept="market", levels=("4",), legal_basis="《促进个体工商户发展条例》第九条；《中华人民共和国市场主体登记管理条例》第三条",
        promise_limit=(1, "WORKDAY"), legal_limit=(3, "WORKDAY"), case_type="2",
        service_objects=("1",), handling_forms=("1", "2", "3"), online_depth=4, on_site_visits=0,
        materials=(Material("个体工商户登记（备案）申请书", True, E), Material("经营者身份证明", True, E),
                   Material("经营场所使用证明", True, E)),
        result_type="CERTIFICATE", cert_name="营业执照", cert_no="licence", applicants="person",
        review_steps=("审核",)),
    ItemTemplate(
        key="medical_reimbursement", name="医疗费用手工（零星）报销", item_type="20", main="41003", sub="000",
        dept="medicare", levels=("4",), legal_basis="《中华人民共和国社会保险法》第二十八条、第二十九条",
        promise_limit=(20, "WORKDAY"), legal_limit=None, case_type="2",
        service_objects=("1",), handling_forms=("1", "2", "3"), online_depth=3, on_site_visits=1,
        materials=(Material("医疗收费票据", True, P, 1, 0), Material("费用明细清单", True, B, 1, 0),
                   Material("出院小结或门诊病历", True, B, 0, 1), Material("社会保障卡", False, B, 0, 1)),
        result_type="OTHER", cert_name="医疗费用报销结算单", cert_no="receipt:BX", applicants="person",
        review_steps=("初审", "复核"), delivers=False),
    ItemTemplate(
        key="eia_report_form", name="建设项目环境影响报告表审批", item_type="01", main="17002", sub="000",
        dept="ecology", levels=("3", "4"),
        legal_basis="《中华人民共和国环境影响评价法》第二十二条；《建设项目环境保护管理条例》第九条",
        promise_limit=(15, "WORKDAY"), legal_limit=(30, "DAY"), case_type="2",
        service_objects=("2", "3"), handling_forms=("1", "2"), online_depth=4, on_site_visits=0,
        materials=(Material("建设项目环境影响报告表", True, E), Material("建设项目环境影响评价审批申请书", True, E)),
        result_type="DECISION", cert_name="建设项目环境影响报告表审批意见", cert_no="doc:环审", applicants="org"),
    ItemTemplate(
        key="household_transfer", name="户口迁移登记（省内迁移）", item_type="20", main="10105", sub="000",
        dept="public_security", levels=("4",), region_part="00",
        legal_basis="《中华人民共和国户口登记条例》第十条；《广东省公安厅关于进一步深化户籍制度改革的实施意见》",
        promise_limit=(5, "WORKDAY"), legal_limit=None, case_type="2",
        service_objects=("1",), handling_forms=("1", "2", "3"), online_depth=4, on_site_visits=0,
        materials=(Material("居民户口簿", True, E), Material("居民身份证", True, E),
                   Material("合法稳定住所证明", True, E)),
        result_type="OTHER", cert_name="户口迁移证明", cert_no="receipt:HK", applicants="person",
        review_steps=("审核", "审批")),
    ItemTemplate(
        key="seed_licence", name="农作物种子生产经营许可", item_type="01", main="23011", sub="000",
        dept="agri", levels=("4",), legal_basis="《中华人民共和国种子法》第三十一条、第三十三条",
        promise_limit=(10, "WORKDAY"), legal_limit=(20, "WORKDAY"), case_type="2",
        service_objects=("2",), handling_forms=("1", "2"), online_depth=3, on_site_visits=1,
        materials=(Material("农作物种子生产经营许可证申请表", True, B, 1, 0), Material("种子检验设施设备清单", True, B, 1, 0),
                   Material("营业执照", True, E)),
        result_type="CERTIFICATE", cert_name="农作物种子生产经营许可证", cert_no="doc:农种许字", validity_years=5,
        applicants="org"),
    ItemTemplate(
        key="entertainment_venue", name="娱乐场所经营许可", item_type="01", main="27004", sub="000",
        dept="culture", levels=("4",), legal_basis="《娱乐场所管理条例》第九条、第十一条",
        promise_limit=(10, "WORKDAY"), legal_limit=(20, "DAY"), case_type="2",
        service_objects=("1", "2"), handling_forms=("1", "2"), online_depth=3, on_site_visits=1,
        materials=(Material("娱乐场所经营许可申请表", True, B, 1, 0), Material("营业执照", True, E),
                   Material("房屋产权证明或租赁合同", True, B, 0, 1), Material("消防安全检查合格证明", False, B, 0, 1)),
        result_type="CERTIFICATE", cert_name="娱乐经营许可证", cert_no="serial", validity_years=2, applicants="org"),
)

# ------------------------------------------------------------ planted near-duplicates (issue 7)
# Different basic codes whose names differ only slightly from an existing basic item: the
# "一事多码" defect the province must find. ``shadow_of`` names the original template.
SHADOW_TEMPLATES: tuple[ItemTemplate, ...] = (
    ItemTemplate(
        key="pension_enrol_shadow", name="城乡居民养老保险参保登记", item_type="20", main="14209", sub="000",
        dept="hrss", levels=("4",),
        legal_basis="《中华人民共和国社会保险法》第二十条、第二十二条",
        promise_limit=(0, "WORKDAY"), legal_limit=None, case_type="1",
        service_objects=("1",), handling_forms=("1", "2", "3"), online_depth=4, on_site_visits=0,
        materials=(Material("居民身份证", True, E),),
        result_type="OTHER", cert_name="城乡居民养老保险参保登记回执", cert_no="receipt:CB", applicants="person",
        review_steps=("审核",), delivers=False, shadow_of="pension_enrol"),
    ItemTemplate(
        key="unemployment_shadow", name="失业保险金申领发放", item_type="05", main="14106", sub="000",
        dept="hrss", levels=("4",), legal_basis="《失业保险条例》第十四条",
        promise_limit=(5, "WORKDAY"), legal_limit=(10, "WORKDAY"), case_type="2",
        service_objects=("1",), handling_forms=("1", "2", "3"), online_depth=4, on_site_visits=0,
        materials=(Material("居民身份证", True, E),),
        result_type="OTHER", cert_name="失业保险待遇核定通知书", cert_no="receipt:SY", applicants="person",
        review_steps=("审核",), delivers=False, shadow_of="unemployment"),
)

# Local names that implementing departments give to a basic item (planted "一事多名").
MANY_NAME_VARIANTS: dict[str, str] = {
    "marriage": "结婚登记",
    "food_business": "食品经营许可证核发（新办）",
}

# ------------------------------------------------------------------ city-level items (level 3)
CITY_TEMPLATES: tuple[ItemTemplate, ...] = (
    ItemTemplate(
        key="pollution_permit", name="排污许可证核发", item_type="01", main="17011", sub="000",
        dept="ecology", levels=("3",), legal_basis="《排污许可管理条例》第二条、第十条",
        promise_limit=(20, "WORKDAY"), legal_limit=(30, "DAY"), case_type="2",
        service_objects=("2", "3"), handling_forms=("1", "2"), online_depth=4, on_site_visits=0,
        materials=(Material("排污许可证申请表", True, E), Material("自行监测方案", True, E),
                   Material("排污许可证申请前信息公开情况说明表", True, E)),
        result_type="CERTIFICATE", cert_name="排污许可证", cert_no="pollution", validity_years=5, applicants="org"),
    ItemTemplate(
        key="drug_retail", name="开办药品零售企业审批", item_type="01", main="31022", sub="000",
        dept="market", levels=("3",), legal_basis="《中华人民共和国药品管理法》第五十二条、第五十三条",
        promise_limit=(15, "WORKDAY"), legal_limit=(30, "WORKDAY"), case_type="2",
        service_objects=("2",), handling_forms=("1", "2", "3"), online_depth=3, on_site_visits=1,
        materials=(Material("药品经营许可证申请表", True, B, 1, 0), Material("营业执照", True, E),
                   Material("执业药师资格证书及注册证", True, B, 0, 1), Material("经营场所产权证明或租赁合同", True, P, 0, 1)),
        result_type="CERTIFICATE", cert_name="药品经营许可证", cert_no="drug", validity_years=5, applicants="org"),
    ItemTemplate(
        key="taxi_driver", name="出租汽车驾驶员从业资格证核发", item_type="01", main="19015", sub="000",
        dept="transport", levels=("3",), legal_basis="《出租汽车驾驶员从业资格管理规定》第十条、第十五条",
        promise_limit=(5, "WORKDAY"), legal_limit=(10, "DAY"), case_type="2",
        service_objects=("1",), handling_forms=("1", "2", "3"), online_depth=3, on_site_visits=1,
        materials=(Material("出租汽车驾驶员从业资格证申请表", True, B, 1, 0), Material("机动车驾驶证", True, B, 0, 1),
                   Material("无暴力犯罪记录证明", True, P, 1, 0)),
        result_type="CERTIFICATE", cert_name="出租汽车驾驶员从业资格证", cert_no="serial", validity_years=6,
        applicants="person"),
    ItemTemplate(
        key="outdoor_advert", name="设置大型户外广告及在城市建筑物、设施上悬挂、张贴宣传品审批",
        item_type="01", main="18047", sub="000", dept="urban", levels=("3",),
        legal_basis="《城市市容和环境卫生管理条例》第十一条",
        promise_limit=(10, "WORKDAY"), legal_limit=(20, "DAY"), case_type="2",
        service_objects=("1", "2"), handling_forms=("1", "2"), online_depth=4, on_site_visits=0,
        materials=(Material("户外广告设置申请表", True, E), Material("广告设计效果图", True, E),
                   Material("设置场地使用权证明", True, E)),
        result_type="DECISION", cert_name="户外广告设置审批决定书", cert_no="doc:城管户广字", applicants="org"),
    ItemTemplate(
        key="medical_institution", name="医疗机构执业登记", item_type="01", main="20003", sub="000",
        dept="health", levels=("2", "3"), legal_basis="《医疗机构管理条例》第十五条、第十六条",
        promise_limit=(30, "WORKDAY"), legal_limit=(45, "DAY"), case_type="2",
        service_objects=("2", "3", "4"), handling_forms=("1", "2"), online_depth=3, on_site_visits=1,
        materials=(Material("医疗机构执业登记申请书", True, B, 1, 0), Material("设置医疗机构批准书", True, B, 0, 1),
                   Material("医疗机构用房产权证明或使用证明", True, P, 0, 1), Material("医疗机构规章制度", True, E)),
        result_type="CERTIFICATE", cert_name="医疗机构执业许可证", cert_no="serial", validity_years=5,
        applicants="org"),
)

# -------------------------------------------------------------- province-level items (level 2)
PROVINCE_TEMPLATES: tuple[ItemTemplate, ...] = (
    ItemTemplate(
        key="builder_qualification", name="建筑业企业资质核准（施工总承包一级资质）", item_type="01", main="18002",
        sub="000", dept="housing", levels=("2",),
        legal_basis="《中华人民共和国建筑法》第十三条；《建筑业企业资质管理规定》第九条",
        promise_limit=(15, "WORKDAY"), legal_limit=(20, "WORKDAY"), case_type="2",
        service_objects=("2",), handling_forms=("1", "2"), online_depth=4, on_site_visits=0,
        materials=(Material("建筑业企业资质申请表", True, E), Material("企业法人营业执照", True, E),
                   Material("主要人员证明材料", True, E)),
        result_type="CERTIFICATE", cert_name="建筑业企业资质证书", cert_no="qualification", validity_years=5,
        applicants="org"),
    ItemTemplate(
        key="tour_guide", name="导游证核发", item_type="01", main="27012", sub="000",
        dept="culture", levels=("2",), legal_basis="《中华人民共和国旅游法》第三十七条；《导游管理办法》第八条",
        promise_limit=(5, "WORKDAY"), legal_limit=(10, "WORKDAY"), case_type="2",
        service_objects=("1",), handling_forms=("2", "3"), online_depth=4, on_site_visits=0,
        materials=(Material("导游人员资格证书", True, E), Material("与旅行社订立的劳动合同或在旅游行业组织注册的证明", True, E)),
        result_type="CERTIFICATE", cert_name="导游证", cert_no="guide", validity_years=3, applicants="person",
        review_steps=("审核",)),
    ItemTemplate(
        key="hr_agency", name="经营性人力资源服务机构从事职业中介活动许可", item_type="01", main="14017", sub="000",
        dept="hrss", levels=("2",), legal_basis="《人力资源市场暂行条例》第十八条",
        promise_limit=(10, "WORKDAY"), legal_limit=(20, "WORKDAY"), case_type="2",
        service_objects=("2",), handling_forms=("1", "2"), online_depth=4, on_site_visits=0,
        materials=(Material("人力资源服务许可申请书", True, E), Material("营业执照", True, E),
                   Material("专职工作人员学历证明", True, E)),
        result_type="CERTIFICATE", cert_name="人力资源服务许可证", cert_no="serial", applicants="org"),
    ItemTemplate(
        key="drug_wholesale", name="药品批发企业经营许可", item_type="01", main="31021", sub="000",
        dept="drug", levels=("2",), legal_basis="《中华人民共和国药品管理法》第五十一条、第五十二条",
        promise_limit=(20, "WORKDAY"), legal_limit=(30, "WORKDAY"), case_type="2",
        service_objects=("2",), handling_forms=("1", "2"), online_depth=3, on_site_visits=1,
        materials=(Material("药品经营许可证申请表", True, B, 1, 0), Material("营业执照", True, E),
                   Material("质量管理文件目录", True, B, 0, 1)),
        result_type="CERTIFICATE", cert_name="药品经营许可证", cert_no="drug", validity_years=5, applicants="org"),
)

ALL_TEMPLATES: tuple[ItemTemplate, ...] = (
    *PROVINCE_TEMPLATES, *CITY_TEMPLATES, *COUNTY_TEMPLATES, *SHADOW_TEMPLATES)
TEMPLATES_BY_KEY: dict[str, ItemTemplate] = {t.key: t for t in ALL_TEMPLATES}
