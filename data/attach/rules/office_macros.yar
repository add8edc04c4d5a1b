/*
 * mimamori attach: Office macro documents. The plugin hands YARA the
 * decompressed source of every VBA module as its own object (container
 * path ...>vbaProject.bin>VBA/Module1), so these rules read macro text.
 */

rule mm_vba_autoexec
{
	meta:
		description = "VBA macro that runs by itself when the document is opened or closed"
		author = "mimamori"
	strings:
		$attr = "Attribute VB_Name" nocase
		$a1 = "AutoOpen" nocase
		$a2 = "Document_Open" nocase
		$a3 = "Workbook_Open" nocase
		$a4 = "Auto_Open" nocase
		$a5 = "AutoClose" nocase
		$a6 = "Document_Close" nocase
		$a7 = "Workbook_Activate" nocase
		$a8 = "AutoExec" nocase
		$a9 = "Document_ContentControlOnEnter" nocase
		$a10 = "_Layout" nocase
		$a11 = "_Painted" nocase
	condition:
		$attr at 0 and any of ($a*)
}

rule mm_vba_suspicious_calls
{
	meta:
		description = "VBA macro that starts programs, downloads or decodes payloads"
		author = "mimamori"
	strings:
		$attr = "Attribute VB_Name" nocase
		$s1 = "Shell" nocase fullword
		$s2 = "WScript.Shell" nocase
		$s3 = "CreateObject" nocase
		$s4 = "powershell" nocase
		$s5 = "URLDownloadToFile" nocase
		$s6 = "MSXML2.XMLHTTP" nocase
		$s7 = "Adodb.Stream" nocase
		$s8 = "CallByName" nocase
		$s9 = "Win32_Process" nocase
		$s10 = "FromBase64String" nocase
	condition:
		$attr at 0 and 2 of ($s*)
}

rule mm_ooxml_macro_container
{
	meta:
		description = "Office Open XML document that carries a VBA project"
		author = "mimamori"
	strings:
		$pk = { 50 4B 03 04 }
		$vba = "vbaProject.bin" nocase
	condition:
		$pk at 0 and $vba
}
