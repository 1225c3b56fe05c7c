"""Geography and government departments of the sandbox province (Guangdong, GB/T 2260 codes).

The region codes, names and system codes are real enough for a demo: 广东省 440000, 广州市
440100 with 荔湾区 440103, 越秀区 440104 …, 深圳市 440300 … Each system identifier is
``TB:{level}:{regionCode}:{systemCode}`` (TBS-CODE-001); system codes are the pinyin
initials of the jurisdiction followed by ``ZWFW`` (政务服务), as in Annex B.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class County:
    """A county-level jurisdiction (市辖区, 县 or 县级市): county-shaped region code (§6.1)."""

    code: str
    name: str          # 荔湾区
    system_code: str   # LWZWFW
    short: str         # one-character abbreviation used in certificate numbers (荔)
    street: str        # one 街道/镇 that implements level-5 items

    @property
    def bare(self) -> str:
        """The name without its 区/县 suffix (荔湾), as in 广州市生态环境局荔湾分局."""
        return self.name[:-1] if self.name[-1] in "区县" and len(self.name) > 2 else self.name


@dataclass(frozen=True)
class City:
    code: str
    name: str
    system_code: str
    short: str         # 穗, 深 … (certificate and document numbers)
    counties: tuple[County, ...]


@dataclass(frozen=True)
class Province:
    code: str
    name: str
    system_code: str
    short: str
    cities: tuple[City, ...]


def county_full_name(city: City, county: County) -> str:
    """Official prefix of a county's bodies: districts carry the city name (广州市荔湾区), counties
    and county-level cities do not (博罗县, 台山市)."""
    return city.name + county.name if county.name.endswith("区") else county.name


GUANGDONG = Province(
    code="440000", name="广东省", system_code="GDZWFW", short="粤",
    cities=(
        City("440100", "广州市", "GZZWFW", "穗", (
            County("440103", "荔湾区", "LWZWFW", "荔", "沙面街道"),
            County("440104", "越秀区", "YXZWFW", "越", "北京街道"),
            County("440105", "海珠区", "HZZWFW", "海", "南华西街道"),
            County("440106", "天河区", "THZWFW", "天", "石牌街道"),
            County("440111", "白云区", "BYZWFW", "云", "三元里街道"),
            County("440112", "黄埔区", "HPZWFW", "埔", "黄埔街道"),
            County("440113", "番禺区", "PYZWFW", "番", "市桥街道"),
            County("440114", "花都区", "HDZWFW", "花", "新华街道"),
        )),
        City("440300", "深圳市", "SZZWFW", "深", (
            County("440303", "罗湖区", "LHZWFW", "罗", "桂园街道"),
            County("440304", "福田区", "FTZWFW", "福", "园岭街道"),
            County("440305", "南山区", "NSZWFW", "南", "南头街道"),
            County("440306", "宝安区", "BAZWFW", "宝", "新安街道"),
            County("440307", "龙岗区", "LGZWFW", "龙", "龙城街道"),
            County("440308", "盐田区", "YTZWFW", "盐", "沙头角街道"),
        )),
        City("440600", "佛山市", "FSZWFW", "佛", (
            County("440604", "禅城区", "CCZWFW", "禅", "祖庙街道"),
            County("440605", "南海区", "NHZWFW", "南", "桂城街道"),
            County("440606", "顺德区", "SDZWFW", "顺", "大良街道"),
            County("440607", "三水区", "SSZWFW", "三", "西南街道"),
            County("440608", "高明区", "GMZWFW", "高", "荷城街道"),
        )),
        City("440400", "珠海市", "ZHZWFW", "珠", (
            County("440402", "香洲区", "XZZWFW", "香", "拱北街道"),
            County("440403", "斗门区", "DMZWFW", "斗", "白藤街道"),
            County("440404", "金湾区", "JWZWFW", "金", "三灶镇"),
        )),
        City("441300", "惠州市", "HUIZZWFW", "惠", (
            County("441302", "惠城区", "HCZWFW", "惠", "江北街道"),
            County("441303", "惠阳区", "HYZWFW", "阳", "淡水街道"),
            County("441322", "博罗县", "BLZWFW", "博", "罗阳街道"),
            County("441323", "惠东县", "HDXZWFW", "东", "平山街道"),
            County("441324", "龙门县", "LMZWFW", "门", "龙城街道"),
        )),
        City("440500", "汕头市", "STZWFW", "汕", (
            County("440507", "龙湖区", "LHQZWFW", "湖", "金霞街道"),
            County("440511", "金平区", "JPZWFW", "平", "石炮台街道"),
            County("440512", "濠江区", "HJZWFW", "濠", "达濠街道"),
            County("440513", "潮阳区", "CYZWFW", "潮", "文光街道"),
            County("440523", "南澳县", "NAZWFW", "澳", "后宅镇"),
        )),
        City("440700", "江门市", "JMZWFW", "江", (
            County("440703", "蓬江区", "PJZWFW", "蓬", "白沙街道"),
            County("440704", "江海区", "JHZWFW", "海", "江南街道"),
            County("440705", "新会区", "XHZWFW", "新", "会城街道"),
            County("440781", "台山市", "TSZWFW", "台", "台城街道"),
            County("440783", "开平市", "KPZWFW", "开", "长沙街道"),
        )),
        City("441500", "汕尾市", "SWZWFW", "汕尾", (
            County("441502", "城区", "SWCQZWFW", "城", "香洲街道"),
            County("441521", "海丰县", "HFZWFW", "丰", "海城镇"),
            County("441523", "陆河县", "LHXZWFW", "河", "河田镇"),
            County("441581", "陆丰市", "LFZWFW", "陆", "东海街道"),
        )),
    ),
)


@dataclass(frozen=True)
class DepartmentKind:
    """One kind of government department and its official name at each level.

    Patterns use ``{province}``, ``{city}``, ``{county}`` (full prefix, e.g. 广州市荔湾区),
    ``{county_name}`` (荔湾区) and ``{bare}`` (荔湾). ``None`` means the level has no such body.
    """

    key: str
    province: str | None
    city: str | None
    county: str | None
    nature: str = "1"                  # A.3: 1 法定机关
    former_county: str | None = None   # the pre-2018-reform name, still found in stale copies


DEPARTMENT_KINDS: dict[str, DepartmentKind] = {k.key: k for k in (
    DepartmentKind("gov_service", "{province}政务服务和数据管理局", "{city}政务服务和数据管理局",
                   "{county}政务服务和数据管理局"),
    DepartmentKind("health", "{province}卫生健康委员会", "{city}卫生健康委员会", "{county}卫生健康局",
                   former_county="{county}卫生和计划生育局"),
    DepartmentKind("market", "{province}市场监督管理局", "{city}市场监督管理局", "{county}市场监督管理局",
                   former_county="{county}工商行政管理局"),
    DepartmentKind("drug", "{province}药品监督管理局", None, None),
    DepartmentKind("civil", "{province}民政厅", "{city}民政局", "{county}民政局"),
    DepartmentKind("hrss", "{province}人力资源和社会保障厅", "{city}人力资源和社会保障局",
                   "{county}人力资源和社会保障局"),
    DepartmentKind("housing", "{province}住房和城乡建设厅", "{city}住房和城乡建设局", "{county}住房和城乡建设局",
                   former_county="{county}住房和城乡规划建设局"),
    DepartmentKind("transport", "{province}交通运输厅", "{city}交通运输局", "{county}交通运输局",
                   former_county="{county}交通局"),
    DepartmentKind("education", "{province}教育厅", "{city}教育局", "{county}教育局"),
    DepartmentKind("ecology", "{province}生态环境厅", "{city}生态环境局", "{city}生态环境局{bare}分局"),
    DepartmentKind("culture", "{province}文化和旅游厅", "{city}文化广电旅游局", "{county}文化广电旅游体育局",
                   former_county="{county}文化广电新闻出版局"),
    DepartmentKind("medicare", "{province}医疗保障局", "{city}医疗保障局", "{county}医疗保障局"),
    DepartmentKind("urban", None, "{city}城市管理和综合执法局", "{county}城市管理和综合执法局",
                   former_county="{county}城市管理局"),
    DepartmentKind("agri", "{province}农业农村厅", "{city}农业农村局", "{county}农业农村局",
                   former_county="{county}农业局"),
    DepartmentKind("public_security", "{province}公安厅", "{city}公安局", "{city}公安局{county_name}分局"),
)}

# Published sample value (Annex B): 广州市荔湾区卫生健康局. Every other USCC is generated.
KNOWN_USCC: dict[tuple[str, str], str] = {("440103", "health"): "11440103007493637K"}

# Address codes for resident identity numbers of applicants born outside the sandbox counties
# (GB/T 2260 codes of other provinces' districts: 长沙芙蓉, 南宁兴宁, 成都锦江, 南昌东湖, 武汉江岸,
# 福州鼓楼, 湛江赤坎, 梅州梅江, 茂名茂南, 揭阳榕城).
MIGRANT_ADDRESS_CODES: tuple[str, ...] = (
    "430102", "450102", "510104", "360102", "420102", "350102", "440802", "441402", "440902", "445202",
)
