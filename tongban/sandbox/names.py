"""Word lists for the sandbox: personal names, company names, step names and opinions.

Every name of a person or company produced from these lists is fictitious.
"""
from __future__ import annotations

# Common surnames, most frequent first (the generator weights the head of the list).
SURNAMES: tuple[str, ...] = tuple(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高梁郑谢宋唐许邓冯韩曹曾彭蔡潘田董袁于余叶蒋杜苏魏程吕丁沈任姚卢"
    "钟姜崔谭廖范汪陆金石戴贾韦夏邱方侯邹熊孟秦白江薛尹段雷黎史龙陶贺顾毛郝龚邵万严赖覃洪武莫孔"
)
SURNAME_PAIRS: tuple[str, ...] = ("欧阳", "司徒", "上官")  # a few compound surnames, common in Guangdong

GIVEN_MALE: tuple[str, ...] = (
    "伟", "强", "磊", "军", "勇", "杰", "涛", "斌", "超", "明", "俊", "浩", "鹏", "辉", "建华", "志强", "国强",
    "文杰", "子豪", "俊杰", "家豪", "宇轩", "浩然", "志明", "永健", "锦华", "振宇", "嘉诚", "伟明", "德胜",
)
GIVEN_FEMALE: tuple[str, ...] = (
    "芳", "娜", "敏", "静", "丽", "艳", "婷", "霞", "燕", "玲", "秀英", "桂芳", "美玲", "丽娟", "晓红", "雅琪",
    "欣怡", "诗涵", "梓涵", "嘉欣", "慧敏", "凤仪", "少芬", "丽华", "月娥", "佩珊", "咏诗", "晓彤", "婉婷", "淑贞",
)

# 字号 (trade names) and business lines of fictitious companies.
TRADE_NAMES: tuple[str, ...] = (
    "粤兴", "恒达", "嘉禾", "瑞丰", "宏图", "信和", "南粤", "汇通", "永泰", "安康", "华景", "顺昌", "金穗", "锦程",
    "广信", "海川", "立德", "启航", "鸿运", "富民", "德润", "和美", "晨曦", "星河", "联创", "博雅", "同心", "乐活",
)
BUSINESS_LINES: dict[str, tuple[str, ...]] = {
    "food_business": ("餐饮管理", "食品", "饮食"),
    "public_place_hygiene": ("酒店管理", "美容美发", "健身服务", "游泳场馆"),
    "construction_permit": ("建设工程", "房地产开发", "建筑工程"),
    "construction_waste": ("建筑工程", "渣土运输", "建设工程"),
    "road_freight": ("物流", "货运", "供应链管理"),
    "private_kindergarten": ("教育咨询", "教育科技", "文化教育"),
    "eia_report_form": ("电子科技", "新材料", "精密制造", "环保科技"),
    "seed_licence": ("种业", "农业科技", "农业发展"),
    "entertainment_venue": ("文化娱乐", "娱乐", "KTV"),
    "pollution_permit": ("电镀", "印染", "化工", "精密制造"),
    "drug_retail": ("大药房", "医药连锁", "药店"),
    "drug_wholesale": ("医药", "药业", "医药贸易"),
    "outdoor_advert": ("广告", "文化传播", "传媒"),
    "medical_institution": ("医疗管理", "门诊部", "口腔门诊部"),
    "builder_qualification": ("建设集团", "建筑工程", "建工集团"),
    "hr_agency": ("人力资源", "人力资源服务", "劳务派遣"),
}
DEFAULT_BUSINESS_LINES: tuple[str, ...] = ("商贸", "科技", "实业")
ORG_FORMS: tuple[str, ...] = ("有限公司", "有限公司", "有限公司", "股份有限公司")
HOUSEHOLD_SHOPS: tuple[str, ...] = ("小吃店", "粥粉面店", "烧腊店", "糖水铺", "便利店", "面包店")

SUBMIT_STEP = {"1": "窗口申请", "2": "网上申报", "3": "移动端申报", "4": "邮寄申请"}
DELIVER_STEP = {"mail": "证照送达（邮寄）", "window": "窗口领取", "electronic": "电子证照送达",
                "decision": "决定书送达"}

REVIEW_APPROVE: tuple[str, ...] = (
    "材料齐全，符合法定形式，同意。",
    "经审查，申请材料齐全、符合法定形式，拟同意。",
    "现场核查符合要求，同意报批。",
    "同意承办意见。",
    "符合条件，同意。",
)
REVIEW_RETURN: tuple[str, ...] = (
    "申请材料中平面布局图与现场核查情况不一致，退回承办人重新核实。",
    "审查意见依据引用不准确，退回重新审查。",
)
REVIEW_AGAINST: tuple[str, ...] = (
    "经现场核查，申请人的场所条件不符合规定要求，拟不予许可。",
    "申请人不具备规定的条件，建议不予许可。",
)
NOT_PERMITTED: tuple[str, ...] = (
    "经审查，申请人不符合规定的许可条件，决定不予许可。申请人如不服本决定，可在收到决定书之日起六十日内依法申请行政复议，或在六个月内依法提起行政诉讼。",
    "经现场核查，经营场所布局与申请材料不符且未能整改到位，决定不予许可。",
)
SUPPLEMENT_NOTICE: tuple[str, ...] = (
    "申请材料不齐全，请一次性补正以下材料：1. 经营场所平面布局图；2. 从业人员健康证明。",
    "申请表未签字盖章，请补正后重新提交。",
    "身份证明文件扫描件不清晰，请重新上传清晰的彩色扫描件。",
)
REJECT_ACCEPTANCE: tuple[str, ...] = (
    "申请事项不属于本机关职权范围，不予受理，请向有管辖权的行政机关申请。",
    "申请事项依法不需要取得行政许可，不予受理。",
)
NOT_ACCEPTED: tuple[str, ...] = (
    "依据《中华人民共和国行政许可法》第三十二条第一款，作出不予受理决定。",
    "已向申请人出具不予受理决定书并告知理由。",
)
RETURNED: tuple[str, ...] = (
    "申请人逾期未补正材料，视为放弃申请，予以退件。",
    "申请人主动申请放弃办理，予以退件。",
)
VOIDED: tuple[str, ...] = ("窗口录入错误，作废办结。", "重复录入，作废办结。")
TRANSFERRED: tuple[str, ...] = ("该申请事项属上级机关管辖，已按规定转报办理。",)
WITHDRAW: tuple[str, ...] = ("申请人申请撤回。", "申请人因经营计划变更申请撤回申请。")
SUSPEND_OTHER: tuple[tuple[str, str], ...] = (
    ("现场核查", "需组织现场核查，核查期间不计入办理时限。"),
    ("专家评审", "需组织专家评审，评审期间不计入办理时限。"),
    ("听证", "依法需要举行听证，听证期间不计入办理时限。"),
    ("公示", "依法需要公示，公示期间不计入办理时限。"),
)
SUSPEND_EXTENSION = "情况复杂，经本机关负责人批准，延长审批期限十个工作日。"

EVAL_POSITIVE: tuple[str, ...] = (
    "全程网上办理，很方便。",
    "窗口工作人员态度很好，一次就办好了。",
    "办理速度快，点赞！",
    "材料一次性讲清楚，不用来回跑。",
)
EVAL_NEGATIVE: tuple[str, ...] = (
    "证照邮寄较慢，电话咨询未接通。",
    "等候时间太长。",
    "补正要求前后不一致，来回跑了两次。",
    "网上系统经常卡顿，上传材料失败。",
    "办理时间超过承诺时限，也没有说明原因。",
)
# 好差评 indicator codes of the national evaluation system (evalDetail); values are not checked
# by TBS-1.0, these mimic the ones in Annex B.5.
EVAL_DETAIL_CODES: tuple[str, ...] = ("501", "502", "505", "508", "510", "512", "515", "517", "520")
