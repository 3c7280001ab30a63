"""Build settings (bazel_skylib's common_settings, which 4.2.3 lacks offline)."""

BuildSettingInfo = provider(fields = ["value"])

def _impl(ctx):
    return [BuildSettingInfo(value = ctx.build_setting_value)]

bool_flag = rule(implementation = _impl, build_setting = config.bool(flag = True))
string_flag = rule(implementation = _impl, build_setting = config.string(flag = True))
