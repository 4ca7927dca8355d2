package webapp

import (
	"infowork/periodical"
)

// Template functions of the periodical pages, added to the shared map before templates parse.
func init() {
	funcs["issueState"] = periodical.StateName
	funcs["periodicalLevel"] = periodical.LevelName
	funcs["frequencyName"] = periodical.FrequencyName
	funcs["leaderLevel"] = periodical.LeaderLevelName
	funcs["taskState"] = periodical.TaskStateName
	funcs["channelName"] = periodical.ChannelName
	funcs["shortHash"] = func(s string) string {
		if len(s) > 12 {
			return s[:12]
		}
		return s
	}
}
